package integration

// Rootless interactive scenarios: attach, run -it and exec -it in a real
// terminal (tmux, run by the user) with a resize, and the console socket
// the monitor creates for -t.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// tmux starts the sh command line cmd in a cols×rows terminal run by the
// user.
func (u *rlUser) tmux(t *testing.T, cols, rows int, cmd string) *testutil.Tmux {
	t.Helper()
	return testutil.NewTmux(t, testutil.TmuxConfig{
		Cols: cols, Rows: rows, Dir: u.tempDir(t), Command: u.command,
		Diag: func() string {
			ps, _ := exec.Command("ps", "-u", strconv.Itoa(u.uid), "-o", "pid,ppid,stat,args").CombinedOutput()
			return "the user's processes:\n" + string(ps)
		},
	}, cmd)
}

// rlSizeLoop prints the terminal size on each empty line and exits with
// the given status on "q".
func rlSizeLoop(status int) []string {
	return []string{"sh", "-c", `while read x; do [ "$x" = q ] && exit ` + strconv.Itoa(status) + `; stty size; done`}
}

// rlCheckResize drives a rlSizeLoop in a 100×30 pane: the size reaches the
// container, a resize of the window follows, q ends it with want.
func rlCheckResize(t *testing.T, x *testutil.Tmux, want int) {
	t.Helper()
	x.EnterUntil("30 100")
	x.Resize(120, 40)
	x.EnterUntil("40 120")
	x.TypeLine("q")
	if got := x.ExitStatus(); got != want {
		t.Fatalf("podman exited %d, want %d; screen:\n%s", got, want, x.Screen())
	}
}

func TestRootlessRunTTYResize(t *testing.T) {
	u := setupRootless(t)
	name := u.ctrName(t)
	line := u.line(append([]string{"run", "-it", "--name", name, testImage}, rlSizeLoop(6)...)...)
	rlCheckResize(t, u.tmux(t, 100, 30, line), 6)
	if in := u.inspect(t, name); in.State.ExitCode != 6 {
		t.Fatalf("inspect: %+v, want exit code 6", in.State)
	}
}

func TestRootlessExecTTYResize(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, nil, "sh", "-c", "echo ready; sleep 1000")
	u.waitRunning(t, name, "ready")
	line := u.line(append([]string{"exec", "-it", name}, rlSizeLoop(7)...)...)
	rlCheckResize(t, u.tmux(t, 100, 30, line), 7)
	if in := u.inspect(t, name); !in.State.Running {
		t.Fatalf("the container stopped with its exec session: %+v", in.State)
	}
}

func TestRootlessAttach(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, []string{"-i"}, "sh", "-c",
		`echo ready; while read l; do echo "got $l"; [ "$l" = quit ] && exit 4; done`)
	u.waitRunning(t, name, "ready")
	cmd := u.cmd("attach", name)
	cmd.Stdin = strings.NewReader("hello\nquit\n")
	r := runTimeout(t, time.Minute, cmd)
	// podman 4.3 ends a non-tty attach session with a "\n" of its own
	// (with conmon too).
	if want := "got hello\ngot quit\n\n"; r.Stdout != want {
		t.Fatalf("podman attach: exit %d, stdout %q (want %q)\nstderr: %s", r.Code, r.Stdout, want, r.Stderr)
	}
	if code := u.waitExitCode(t, name); code != 4 {
		t.Fatalf("exit code %d, want 4", code)
	}
	if out := u.pmOK(t, "logs", name); out != "ready\ngot hello\ngot quit\n" {
		t.Fatalf("podman logs: %q", out)
	}
}

// The console socket (§7) for -t: podman gives the monitor no TMPDIR, so it
// lies in /tmp, where everyone may create files; it must belong to the user
// and only the user may connect (0700, as conmon makes it). It lives only
// until the runtime has connected, so a runtime wrapper looks at it.
func TestRootlessConsoleSocket(t *testing.T) {
	u := setupRootless(t)
	dir := u.tempDir(t)
	record := filepath.Join(dir, "console-socket")
	wrapper := filepath.Join(dir, "runc-wrapper")
	script := `#!/bin/sh
# Records the --console-socket it is given, then is runc.
prev=
for a in "$@"; do
	if [ "$prev" = --console-socket ]; then
		{ stat -c '%a %u %F' "$a"; id -u; echo "$a"; } >` + record + `
	fi
	prev=$a
done
exec ` + runcBin + ` "$@"
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	name := u.ctrName(t)
	r := u.pm(t, "--runtime", wrapper, "run", "-t", "--rm", "--name", name, testImage, "sh", "-c", "tty; exit 3")
	if r.Code != 3 || !strings.HasPrefix(r.Stdout, "/dev/pts/") {
		t.Fatalf("podman run -t: exit %d (want 3), stdout %q\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("the runtime was given no --console-socket: %v", err)
	}
	// Inside podman's user namespace the user is uid 0: compare with the
	// wrapper's own uid, which is the user's.
	f := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(f) != 3 {
		t.Fatalf("record %q", b)
	}
	if want := "700 " + f[1] + " socket"; f[0] != want {
		t.Errorf("console socket %s: mode, owner, type %q, want %q", f[2], f[0], want)
	}
	if filepath.Dir(f[2]) != "/tmp" || !strings.HasPrefix(filepath.Base(f[2]), "conmon-term.") {
		t.Errorf("console socket %s, want /tmp/conmon-term.XXXXXX (no TMPDIR)", f[2])
	}
	if _, err := os.Lstat(f[2]); !os.IsNotExist(err) {
		t.Errorf("console socket %s still there after the run (%v)", f[2], err)
	}
}
