package integration

// Interactive podman through the monitor under test: terminals driven with
// tmux (send-keys / capture-pane), podman attach and its detach keys, stdin
// EOF, exec exit codes, exec -it, exec -d, and bulk data through exec -i.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// newTmux starts the sh command line cmd in a terminal of the test's own,
// cols×rows.
func newTmux(t *testing.T, cols, rows int, cmd string) *testutil.Tmux {
	t.Helper()
	return testutil.NewTmux(t, testutil.TmuxConfig{Cols: cols, Rows: rows}, cmd)
}

// checkTerminal types a command and follows a resize in an interactive
// busybox shell shown in p.
func checkTerminal(t *testing.T, p *testutil.Tmux, tag string) {
	t.Helper()
	p.WaitMatch(`(?m)^/ # $`) // the prompt
	p.TypeLine(fmt.Sprintf("echo %s-$((6*7))", tag))
	p.WaitMatch(`(?m)^` + tag + `-42\s*$`)
	ask := func(n int) string {
		p.TypeLine(fmt.Sprintf(`echo "sz%d=$(stty size)"`, n))
		return p.WaitMatch(fmt.Sprintf(`(?m)^sz%d=(\d+ \d+)\s*$`, n))[1]
	}
	if got, want := ask(1), p.Size(); got != want {
		t.Fatalf("stty size %q in a %s pane", got, want)
	}
	p.Resize(97, 23)
	want := p.Size()
	n := 2
	testutil.Eventually(t, 30*time.Second, "stty size to follow the resize to "+want, func() bool {
		n++
		return ask(n) == want
	})
}

func TestPodmanRunInteractive(t *testing.T) {
	pod := setupPodman(t)
	name := pod.ctrName(t)
	p := newTmux(t, 120, 40, pod.line("run", "-it", "--name", name, testImage, "sh"))
	checkTerminal(t, p, "run")
	p.TypeLine("exit 5")
	p.WaitMatch(`pane-exit=5`)
	if in := pod.inspect(t, name); in.State.Running || in.State.ExitCode != 5 {
		t.Fatalf("after exit 5: %+v", in.State)
	}
}

func TestPodmanAttachTerminal(t *testing.T) {
	pod := setupPodman(t)
	name := pod.ctrName(t)
	pod.pmOK(t, "run", "-dit", "--name", name, testImage, "sh")
	pod.waitRunning(t, name, "")
	p := newTmux(t, 100, 30, pod.line("attach", name))
	// Attaching shows no history; a new prompt comes with the first line.
	p.TypeLine("echo attached-$((40+2))")
	p.WaitMatch(`(?m)^attached-42\s*$`)
	// The detach keys leave podman attach and the container running.
	// podman recognises them only as single-byte reads, as typed by a
	// person: both in one read go to the container.
	p.Keys("C-p")
	time.Sleep(300 * time.Millisecond)
	p.Keys("C-q")
	p.WaitMatch(`pane-exit=0`)
	if in := pod.inspect(t, name); !in.State.Running {
		t.Fatalf("container stopped after detaching: %+v", in.State)
	}
	// And one can attach again.
	p2 := newTmux(t, 100, 30, pod.line("attach", name))
	p2.TypeLine("echo again-$((1+1)); exit 4")
	p2.WaitMatch(`(?m)^again-2\s*$`)
	p2.WaitMatch(`pane-exit=\d+`) // podman 4.3 attach exits 0 here, not with the container's status
	if code := pod.waitExitCode(t, name); code != 4 {
		t.Fatalf("exit code %d, want 4", code)
	}
}

// TestPodmanAttachPipes: attach without a terminal sees output produced
// after it attached, and its stdin reaches the container.
func TestPodmanAttachPipes(t *testing.T) {
	pod := setupPodman(t)
	name := pod.ctrName(t)
	pod.pmOK(t, "run", "-d", "-i", "--name", name, testImage, "sh", "-c",
		`echo started; while read l; do echo "got $l"; echo "err $l" >&2; done; echo stdin-closed`)
	pod.waitRunning(t, name, "started")
	cmd := pod.cmd("attach", name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for i := 1; ; i++ {
		// podman attach connects in the background: repeat until a line makes it.
		fmt.Fprintf(stdin, "ping%d\n", i)
		if testutil.Within(time.Second, func() bool { return strings.Contains(stdout.String(), fmt.Sprintf("got ping%d\n", i)) }) {
			break
		}
		if i == 30 {
			t.Fatalf("no answer through podman attach; stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	if strings.Contains(stdout.String(), "started") {
		t.Errorf("attach replayed output from before it attached: %q", stdout.String())
	}
	if !testutil.Within(10*time.Second, func() bool { return strings.Contains(stderr.String(), "err ping") }) {
		t.Errorf("container stderr not relayed: %q", stderr.String())
	}
	stdin.Close() // podman half-closes: the container sees EOF
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("podman attach: %v; stderr %q", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("podman attach still running after stdin EOF; stdout %q", stdout.String())
	}
	if !strings.Contains(stdout.String(), "\nstdin-closed\n") { // podman adds a newline of its own
		t.Errorf("stdout %q, want stdin-closed after EOF", stdout.String())
	}
	if code := pod.waitExitCode(t, name); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestPodmanRunStdinEOF(t *testing.T) {
	pod := setupPodman(t)
	cmd := pod.cmd("run", "--rm", "-i", testImage, "cat")
	cmd.Stdin = strings.NewReader("hi\n")
	out, err := cmd.Output()
	if err != nil || string(out) != "hi\n" {
		t.Fatalf("echo hi | podman run -i cat: %v, stdout %q", err, out)
	}
}

func TestPodmanExecInteractive(t *testing.T) {
	pod := setupPodman(t)
	name := pod.runD(t, nil, "sh", "-c", "echo ready; sleep 100000")
	pod.waitRunning(t, name, "ready")

	t.Run("exit_codes", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want int
		}{
			{[]string{"true"}, 0},
			{[]string{"sh", "-c", "exit 3"}, 3},
			{[]string{"/etc/passwd"}, 126}, // exists, not executable
			{[]string{"/no/such/command"}, 127},
			{[]string{"no-such-command"}, 127}, // not in $PATH
		} {
			if r := pod.pm(t, append([]string{"exec", name}, tc.args...)...); r.Code != tc.want {
				t.Errorf("podman exec %v: exit %d, want %d\nstderr: %s", tc.args, r.Code, tc.want, r.Stderr)
			}
		}
	})
	t.Run("it", func(t *testing.T) {
		p := newTmux(t, 110, 35, pod.line("exec", "-it", name, "sh"))
		checkTerminal(t, p, "exec")
		p.TypeLine("exit 6")
		p.WaitMatch(`pane-exit=6`)
	})
	t.Run("detached", func(t *testing.T) {
		pod.pmOK(t, "exec", "-d", name, "sh", "-c", "sleep 0.2; echo detached-ran > /tmp/exec-d")
		testutil.Eventually(t, 30*time.Second, "the exec -d process to run", func() bool {
			r := pod.pm(t, "exec", name, "cat", "/tmp/exec-d")
			return r.Code == 0 && r.Stdout == "detached-ran\n"
		})
	})
	t.Run("stdin_1MiB", func(t *testing.T) {
		data := make([]byte, 1<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		want := hex.EncodeToString(sum[:])
		// Through the container and back.
		cmd := pod.cmd("exec", "-i", name, "cat")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		got := sha256.Sum256(out)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("podman exec -i cat: %v; got %d bytes (sha256 %x), sent %d (sha256 %s)", err, len(out), got, len(data), want)
		}
		// And as the container sees it.
		cmd = pod.cmd("exec", "-i", name, "sha256sum")
		cmd.Stdin = bytes.NewReader(data)
		out, err = cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), want+" ") {
			t.Fatalf("sha256sum in the container: %v, %q; want %s", err, out, want)
		}
	})
}

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
