package integration

// podman scenarios: run, its exit codes and stdio, logs, exec.

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

func TestPodmanRunExitCodes(t *testing.T) {
	pod := setupPodman(t)
	for _, tc := range []struct {
		name  string
		extra []string
		args  []string
		want  int
	}{
		{"0", nil, []string{"true"}, 0},
		{"3", nil, []string{"sh", "-c", "exit 3"}, 3},
		// In the host pid namespace the shell is no init and dies of its own
		// SIGKILL: a real signal death, reported as 128+9.
		{"137_self_kill", []string{"--pid", "host"}, []string{"sh", "-c", "kill -9 $$"}, 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := pod.ctrName(t)
			args := append(append([]string{"run", "--name", name}, tc.extra...), testImage)
			r := pod.pm(t, append(args, tc.args...)...)
			if r.Code != tc.want {
				t.Fatalf("podman run exited %d, want %d\nstderr: %s", r.Code, tc.want, r.Stderr)
			}
			if in := pod.inspect(t, name); in.State.ExitCode != tc.want || in.State.Running {
				t.Fatalf("inspect: %+v, want exited with %d", in.State, tc.want)
			}
		})
	}
}

func TestPodmanRunStdio(t *testing.T) {
	pod := setupPodman(t)
	t.Run("stdout_stderr_apart", func(t *testing.T) {
		r := pod.pm(t, "run", "--rm", testImage, "sh", "-c", "echo out; sleep 0.1; echo err >&2; sleep 0.1; echo out2")
		if r.Code != 0 || r.Stdout != "out\nout2\n" || r.Stderr != "err\n" {
			t.Fatalf("podman run: exit %d, stdout %q (want %q), stderr %q (want %q)", r.Code, r.Stdout, "out\nout2\n", r.Stderr, "err\n")
		}
	})
	t.Run("stdin", func(t *testing.T) {
		cmd := pod.cmd("run", "--rm", "-i", testImage, "sh", "-c", "cat; echo done")
		cmd.Stdin = strings.NewReader("line one\nline two\n")
		out, err := cmd.Output()
		if err != nil || string(out) != "line one\nline two\ndone\n" {
			t.Fatalf("podman run -i: %v, stdout %q; want the input echoed and EOF seen", err, out)
		}
	})
	t.Run("tty", func(t *testing.T) {
		// Console socket + pty (§7): ONLCR gives \r\n; exit code passes through.
		r := pod.pm(t, "run", "--rm", "-t", testImage, "sh", "-c", "echo hi; tty; exit 3")
		if r.Code != 3 || !regexp.MustCompile(`^hi\r\n/dev/pts/\d+\r\n$`).MatchString(r.Stdout) {
			t.Fatalf("podman run -t: exit %d (want 3), stdout %q (want \"hi\\r\\n/dev/pts/N\\r\\n\")\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("rm", func(t *testing.T) {
		name := pod.ctrName(t)
		pod.pmOK(t, "run", "--rm", "--name", name, testImage, "true")
		if r := pod.pm(t, "container", "exists", name); r.Code != 1 {
			t.Fatalf("container exists after run --rm: exit %d", r.Code)
		}
	})
	t.Run("rm_detached", func(t *testing.T) {
		// Removal is done by the exit command the monitor runs (podman container cleanup --rm).
		name := pod.ctrName(t)
		pod.pmOK(t, "run", "-d", "--rm", "--name", name, testImage, "true")
		testutil.Eventually(t, 30*time.Second, "run -d --rm container to be removed", func() bool {
			return pod.pm(t, "container", "exists", name).Code == 1
		})
	})
}

func TestPodmanLogs(t *testing.T) {
	pod := setupPodman(t)
	name := pod.runD(t, nil, "sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; printf three")
	if code := pod.waitExitCode(t, name); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	r := pod.pm(t, "logs", name)
	if r.Code != 0 || r.Stdout != "one\nthree" || r.Stderr != "two\n" {
		t.Fatalf("podman logs: exit %d, stdout %q (want %q), stderr %q (want %q)", r.Code, r.Stdout, "one\nthree", r.Stderr, "two\n")
	}
}

func TestPodmanLogsTail(t *testing.T) {
	pod := setupPodman(t)
	name := pod.runD(t, nil, "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done")
	pod.waitExitCode(t, name)
	if out := pod.pmOK(t, "logs", "--tail", "2", name); out != "line4\nline5\n" {
		t.Fatalf("podman logs --tail 2: %q", out)
	}
	if out := pod.pmOK(t, "logs", name); out != "line1\nline2\nline3\nline4\nline5\n" {
		t.Fatalf("podman logs: %q", out)
	}
}

func TestPodmanLogsFollow(t *testing.T) {
	pod := setupPodman(t)
	t.Parallel()
	name := pod.runD(t, nil, "sh", "-c", "for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done")
	cmd := pod.cmd("logs", "-f", name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type line struct {
		s  string
		at time.Time
	}
	lines := make(chan line)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- line{sc.Text(), time.Now()}
		}
		io.Copy(io.Discard, stdout)
		close(lines)
	}()
	var got []line
	timeout := time.After(60 * time.Second)
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			got = append(got, l)
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("podman logs -f still running after 60s; got %v", got)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman logs -f: %v", err)
	}
	var texts []string
	for _, l := range got {
		texts = append(texts, l.s)
	}
	if strings.Join(texts, ",") != "tick1,tick2,tick3,tick4,tick5,tick6" {
		t.Fatalf("podman logs -f printed %q", texts)
	}
	// Followed, not dumped at the end: lines arrived spread over time.
	if d := got[len(got)-1].at.Sub(got[0].at); d < 500*time.Millisecond {
		t.Errorf("all lines arrived within %v: not followed live", d)
	}
}

func TestPodmanExec(t *testing.T) {
	pod := setupPodman(t)
	name := execBasics(t, pod, 15)
	cmd := pod.cmd("exec", "-i", name, "cat")
	cmd.Stdin = strings.NewReader("to exec\n")
	if out, err := cmd.Output(); err != nil || string(out) != "to exec\n" {
		t.Fatalf("podman exec -i cat: %v, %q", err, out)
	}
	if out := pod.pmOK(t, "exec", "-t", name, "tty"); !regexp.MustCompile(`^/dev/pts/\d+\r\n$`).MatchString(out) {
		t.Fatalf("podman exec -t tty: %q", out)
	}
	pod.pmOK(t, "exec", "-d", name, "sh", "-c", "echo detached > /dev/null")
}

// execBasics starts a container and checks podman exec's status and both
// streams, then quick short-lived execs, as root or rootless; it returns
// the container's name.
func execBasics(t *testing.T, p *podman, quick int) string {
	t.Helper()
	name := p.runD(t, nil, "sh", "-c", "echo ready; sleep 1000")
	p.waitRunning(t, name, "ready")
	r := p.pm(t, "exec", name, "sh", "-c", "echo exec-out; echo exec-err >&2; exit 4")
	if r.Code != 4 || r.Stdout != "exec-out\n" || r.Stderr != "exec-err\n" {
		t.Fatalf("podman exec: exit %d (want 4), stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	// Short-lived execs: the output must not be lost when the process exits
	// right away (podman attaches before start byte #2, §5.4).
	for i := 0; i < quick; i++ {
		want := fmt.Sprintf("quick %d\n", i)
		if r := p.pm(t, "exec", name, "echo", "quick", strconv.Itoa(i)); r.Code != 0 || r.Stdout != want {
			t.Fatalf("podman exec echo (try %d): exit %d, stdout %q, want %q\nstderr: %s", i, r.Code, r.Stdout, want, r.Stderr)
		}
	}
	return name
}
