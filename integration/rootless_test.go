package integration

// Rootless podman scenarios (see rootless_helpers_test.go): run and its exit
// codes, --rm, logs -f, exec, exec -i with 1 MiB of input, log size limit,
// journald.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

func TestRootlessRunExitCodes(t *testing.T) {
	u := setupRootless(t)
	for _, tc := range []struct {
		name  string
		extra []string
		args  []string
		want  int
	}{
		{"0", nil, []string{"sh", "-c", "echo out; echo err >&2"}, 0},
		{"3", nil, []string{"sh", "-c", "exit 3"}, 3},
		// In the host pid namespace the shell is no init and dies of its own
		// SIGKILL: a real signal death, reported as 128+9.
		{"137_self_kill", []string{"--pid", "host"}, []string{"sh", "-c", "kill -9 $$"}, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := u.ctrName(t)
			args := append(append([]string{"run", "--name", name}, tc.extra...), testImage)
			r := u.pm(t, append(args, tc.args...)...)
			if r.Code != tc.want {
				t.Fatalf("podman run exited %d, want %d\nstderr: %s", r.Code, tc.want, r.Stderr)
			}
			if tc.want == 0 && (r.Stdout != "out\n" || r.Stderr != "err\n") {
				t.Fatalf("podman run: stdout %q (want %q), stderr %q (want %q)", r.Stdout, "out\n", r.Stderr, "err\n")
			}
			if in := u.inspect(t, name); in.State.ExitCode != tc.want || in.State.Running {
				t.Fatalf("inspect: %+v, want exited with %d", in.State, tc.want)
			}
		})
	}
}

func TestRootlessRunRm(t *testing.T) {
	u := setupRootless(t)
	t.Run("attached", func(t *testing.T) {
		name := u.ctrName(t)
		if out := u.pmOK(t, "run", "--rm", "--name", name, testImage, "echo", "bye"); out != "bye\n" {
			t.Fatalf("podman run --rm printed %q", out)
		}
		if r := u.pm(t, "container", "exists", name); r.Code != 1 {
			t.Fatalf("container exists after run --rm: exit %d", r.Code)
		}
	})
	t.Run("detached", func(t *testing.T) {
		// Removed by the exit command the monitor runs as the user.
		name := u.ctrName(t)
		u.pmOK(t, "run", "-d", "--rm", "--name", name, testImage, "true")
		testutil.Eventually(t, 30*time.Second, "run -d --rm container to be removed", func() bool {
			return u.pm(t, "container", "exists", name).Code == 1
		})
	})
}

func TestRootlessLogsFollow(t *testing.T) {
	u := setupRootless(t)
	t.Parallel()
	// The container prints its second line only after the test has seen
	// the first one through `logs -f`: following, not a dump at the end.
	name := u.runD(t, nil, "sh", "-c", `trap "echo tick2; printf tick3; exit 0" USR1; echo tick1; sleep 1000 & wait`)
	cmd := u.cmd("logs", "-f", name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		rd := bufio.NewReader(stdout)
		for {
			l, err := rd.ReadString('\n')
			if l != "" {
				lines <- l
			}
			if err != nil {
				return
			}
		}
	}()
	var got []string
	timeout := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			got = append(got, l)
			if l == "tick1\n" {
				u.pmOK(t, "kill", "-s", "USR1", name)
			}
		case <-timeout:
			t.Fatalf("podman logs -f still running after 60s; got %q", got)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman logs -f: %v", err)
	}
	if strings.Join(got, "") != "tick1\ntick2\ntick3" {
		t.Fatalf("podman logs -f printed %q", got)
	}
}

func TestRootlessExec(t *testing.T) {
	u := setupRootless(t)
	name := execBasics(t, u.podman, 5)
	u.pmOK(t, "exec", "-d", name, "true")
}

func TestRootlessExecStdin1MiB(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, nil, "sh", "-c", "echo ready; sleep 1000")
	u.waitRunning(t, name, "ready")
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:]) + "  -\n"
	cmd := u.cmd("exec", "-i", name, "sh", "-c", "sha256sum; echo eof-seen >&2")
	cmd.Stdin = strings.NewReader(string(data))
	r := runTimeout(t, 2*time.Minute, cmd)
	if r.Code != 0 || r.Stdout != want || r.Stderr != "eof-seen\n" {
		t.Fatalf("podman exec -i sha256sum of 1 MiB: exit %d, stdout %q (want %q), stderr %q", r.Code, r.Stdout, want, r.Stderr)
	}
	// And back out: 1 MiB through cat, byte for byte.
	cmd = u.cmd("exec", "-i", name, "cat")
	cmd.Stdin = strings.NewReader(string(data))
	r = runTimeout(t, 2*time.Minute, cmd)
	if r.Code != 0 || r.Stdout != string(data) {
		t.Fatalf("podman exec -i cat of 1 MiB: exit %d, got %d bytes back (equal: %v), stderr %q", r.Code, len(r.Stdout), r.Stdout == string(data), r.Stderr)
	}
}

func TestRootlessLogMaxSize(t *testing.T) {
	u := setupRootless(t)
	name := u.ctrName(t)
	const max = 4096
	u.pmOK(t, "run", "--name", name, "--log-opt", "max-size=4k", testImage,
		"sh", "-c", `i=1; while [ $i -le 400 ]; do echo "line $i"; i=$((i+1)); done`)
	in := u.inspect(t, name)
	path := in.HostConfig.LogConfig.Path
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > max {
		t.Errorf("%s: %d bytes, over max-size %d", path, fi.Size(), max)
	}
	es := parseLog(t, path)
	if len(es) == 0 || es[len(es)-1].Content != "line 400\n" {
		t.Fatalf("%s does not end with the last line: %q", path, short(es))
	}
	if es[0].Content == "line 1\n" {
		t.Fatalf("%s still starts with line 1: never truncated (%d bytes)", path, fi.Size())
	}
	// podman logs reads what is left, in order.
	var want strings.Builder
	for _, e := range es {
		want.WriteString(e.Content)
	}
	if out := u.pmOK(t, "logs", name); out != want.String() {
		t.Fatalf("podman logs after truncation: %q, want %q", out, want.String())
	}
	t.Run("mode", func(t *testing.T) {
		headOnly(t, "conmon 2.1.6 creates the log 0600 under the caller's umask")
		u.checkPrivate(t, path, 0, 0o640)
	})
}

// journalReadable reports whether the user can read back its own journal
// entries (a per-user journal file, which journald keeps only with
// persistent storage, or membership in systemd-journal); why says what is
// missing.
func (u *rlUser) journalReadable(t *testing.T) (ok bool, why string) {
	t.Helper()
	tag := newID()
	send := u.command("systemd-cat", "-t", tag, "echo", "probe")
	if out, err := send.CombinedOutput(); err != nil {
		return false, fmt.Sprintf("systemd-cat as %s failed: %v %s", u.name, err, out)
	}
	var last string
	for i := 0; i < 50; i++ {
		out, _ := u.command("journalctl", "--no-pager", "-q", "-o", "cat", "SYSLOG_IDENTIFIER="+tag).CombinedOutput()
		if strings.TrimSpace(string(out)) == "probe" {
			return true, ""
		}
		last = strings.TrimSpace(string(out))
		if strings.Contains(last, "No journal files") {
			break // no journal it may open: waiting will not help
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false, fmt.Sprintf("no user journal: %s cannot read its own entries back (journalctl: %q); "+
		"journald here writes one volatile journal that only root may read", u.name, last)
}

// The monitor, running as the user, writes the container's output to
// journald; root checks the entries, and the user reads them back through
// podman logs where a journal readable by the user exists.
func TestRootlessJournald(t *testing.T) {
	u := setupRootless(t)
	ensureJournald(t)
	name := u.ctrName(t)
	r := u.pm(t, "run", "--name", name, "--log-driver", "journald", testImage,
		"sh", "-c", "echo hello; sleep 0.1; echo err >&2; sleep 0.1; printf part")
	if r.Code != 0 || r.Stdout != "hello\npart" || r.Stderr != "err\n" {
		t.Fatalf("podman run --log-driver journald: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	id := u.inspect(t, name).ID
	type entry struct{ Message, Priority, Partial, UID string }
	want := []entry{
		{"hello\n", "6", "", fmt.Sprint(u.uid)},
		{"err\n", "3", "", fmt.Sprint(u.uid)},
		{"part", "6", "true", fmt.Sprint(u.uid)},
	}
	var got []entry
	for _, m := range journalEntries(t, id, len(want)) {
		got = append(got, entry{m["MESSAGE"], m["PRIORITY"], m["CONTAINER_PARTIAL_MESSAGE"], m["_UID"]})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("journal entries %+v, want %+v (_UID: sent by the user's monitor)", got, want)
	}
	t.Run("podman_logs", func(t *testing.T) {
		if ok, why := u.journalReadable(t); !ok {
			t.Skip(why)
		}
		lr := u.pm(t, "logs", name)
		if lr.Code != 0 || lr.Stdout != "hello\npart" || lr.Stderr != "err\n" {
			t.Fatalf("podman logs: exit %d, stdout %q (want %q), stderr %q (want %q)", lr.Code, lr.Stdout, "hello\npart", lr.Stderr, "err\n")
		}
	})
}
