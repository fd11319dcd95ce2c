package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/internal/testutil"
)

// TestExitStatus: the container exits 3; the exit sequence runs in §11.1's
// order: last OOM look, drain, exit file, attach socket removal.
func TestExitStatus(t *testing.T) {
	h := newHarness(t)
	out, status := h.run(h.script(`sh -c 'sleep 0.2; exit 3' & echo $! >"$PIDFILE"`))
	if out.Kind != Exited || out.Status != 3 || status != 3 {
		t.Fatalf("outcome %+v status %d, want exited 3 and status 3", out, status)
	}
	if got := h.exitFile(); got != "3" {
		t.Errorf("exit file %q, want 3", got)
	}
	want := "start running final stop(drain=true) close record exited(3)+json unlink+json+exitfile symlink+json+exitfile watchclose+json+exitfile"
	if got := h.rec.String(); got != want {
		t.Errorf("steps\n got %s\nwant %s", got, want)
	}
	msgs := h.messages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], `{"data": `) || msgs[0] == `{"data": -1}` {
		t.Errorf("sync messages %q, want the container pid", msgs)
	}
}

// TestCreateFailure: the runtime exits 1; the engine gets -1 and the
// runtime's stderr, no exit file is written, and the exit command runs.
func TestCreateFailure(t *testing.T) {
	h := newHarness(t)
	h.io.stderr = "runc: boom"
	marker := filepath.Join(h.dir, "exit-command-ran")
	h.cfg.ExitCommand = &exitcode.Command{Path: "/bin/sh", Args: []string{"-c", "touch " + marker}}
	out, status := h.run(h.script(`exit 1`))
	if out.Kind != CreateFailed || status != 1 || out.Ran() {
		t.Fatalf("outcome %+v status %d, want create failed, status 1", out, status)
	}
	if got := h.exitFile(); got != "<none>" {
		t.Errorf("exit file %q after a failed create", got)
	}
	if msgs := h.messages(); len(msgs) != 1 || msgs[0] != `{"data": -1, "message": "runc: boom"}` {
		t.Errorf("sync messages %q", msgs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("exit command did not run after a failed create: %v", err)
	}
	if !strings.Contains(h.log.String(), "Failed to create container: exit status 1") {
		t.Errorf("diagnostics:\n%s", h.log)
	}
}

// TestSpawnFailure: the runtime cannot be started at all.
func TestSpawnFailure(t *testing.T) {
	h := newHarness(t)
	out, status := h.run(failRuntime{})
	if out.Kind != CreateFailed || status != 1 || !errors.Is(out.Err, unix.ENOENT) {
		t.Fatalf("outcome %+v status %d", out, status)
	}
	if msgs := h.messages(); len(msgs) != 1 || !strings.HasPrefix(msgs[0], `{"data": -1, "message": "start \/no\/runtime: `) {
		t.Errorf("sync messages %q", msgs)
	}
}

// TestSetupFailure: I/O setup failed before the runtime ran: status 1, no
// message, no exit command.
func TestSetupFailure(t *testing.T) {
	h := newHarness(t)
	marker := filepath.Join(h.dir, "exit-command-ran")
	h.cfg.ExitCommand = &exitcode.Command{Path: "/bin/sh", Args: []string{"-c", "touch " + marker}}
	r, w, _ := os.Pipe()
	defer r.Close()
	m := New(h.cfg, Parts{Log: h.log, Sync: nil, IO: h.io, Watch: fakeWatch{h.rec}, Signals: h.signals})
	out, status := m.Run(h.script(`touch "$DIR/runtime-ran"`), errors.New("create stdout pipe: EMFILE"))
	w.Close()
	if out.Kind != SetupFailed || status != 1 {
		t.Fatalf("outcome %+v status %d", out, status)
	}
	for _, p := range []string{marker, filepath.Join(h.dir, "runtime-ran")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a setup failure", p)
		}
	}
}

// TestTimeout: --timeout ends a container that does not exit: status -1,
// no drain, and its process group is killed.
func TestTimeout(t *testing.T) {
	h := newHarness(t)
	h.cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	out, status := h.run(h.script(`setsid sleep 60 & echo $! >"$PIDFILE"`))
	if out.Kind != TimedOut || out.Status != -1 {
		t.Fatalf("outcome %+v, want timed out with -1", out)
	}
	if status != 255 {
		t.Errorf("status %d, want 255 (-1 mod 256)", status)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if got := h.exitFile(); got != "-1" {
		t.Errorf("exit file %q, want -1", got)
	}
	if !strings.Contains(h.rec.String(), "stop(drain=false)") {
		t.Errorf("steps %s: output drained after a timeout", h.rec)
	}
	pid := readPid(t, h.pidfile)
	eventuallyGone(t, pid)
}

// TestSignalBeforeStart: a SIGTERM while the runtime is still creating goes
// to the runtime, not to a container that does not exist yet.
func TestSignalBeforeStart(t *testing.T) {
	h := newHarness(t)
	rt := h.script(`touch "$DIR/creating"; sleep 30; sleep 60 & echo $! >"$PIDFILE"`)
	rt.pid = make(chan int, 1)
	done := make(chan struct{})
	var out Outcome
	var status int
	go func() {
		defer close(done)
		out, status = h.run(rt)
	}()
	<-rt.pid
	waitFile(t, filepath.Join(h.dir, "creating"))
	h.signals <- unix.SIGTERM
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("monitor did not end after the runtime was signalled")
	}
	if out.Kind != CreateFailed || status != 1 {
		t.Fatalf("outcome %+v status %d, want create failed", out, status)
	}
	if log := h.log.String(); !strings.Contains(log, "Failed to create container: signal 15") {
		t.Errorf("the runtime did not die of the forwarded SIGTERM:\n%s", log)
	}
}

// TestSignalWhileRunning: once running, SIGTERM goes to the container.
func TestSignalWhileRunning(t *testing.T) {
	h := newHarness(t)
	rt := h.script(`sleep 60 & echo $! >"$PIDFILE"`)
	done := make(chan struct{})
	var out Outcome
	go func() {
		defer close(done)
		out, _ = h.run(rt)
	}()
	waitFile(t, h.pidfile)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.rec.String(), "running") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.signals <- unix.SIGTERM
	<-done
	if out.Kind != Exited || out.Status != 128+15 {
		t.Fatalf("outcome %+v, want exited 143", out)
	}
}

// TestExitCommandStatus: the exit command's failure becomes the monitor's
// status; one that cannot be executed counts as 1 (§11.4).
func TestExitCommandStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  exitcode.Command
		want int
	}{
		{"exits 7", exitcode.Command{Path: "/bin/sh", Args: []string{"-c", "exit 7"}}, 7},
		{"not executable", exitcode.Command{Path: "/nonexistent/exit-command"}, 1},
		{"succeeds", exitcode.Command{Path: "/bin/true"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.cfg.ExitCommand = &tt.cmd
			out, status := h.run(h.script(`true & echo $! >"$PIDFILE"`))
			if out.Kind != Exited || out.Status != 0 || status != tt.want {
				t.Fatalf("outcome %+v status %d, want exited 0, status %d", out, status, tt.want)
			}
			if got := h.exitFile(); got != "0" {
				t.Errorf("exit file %q, want 0 before the exit command", got)
			}
		})
	}
}

// TestNonChildInit: a container init that is not our descendant (no
// subreaper: it went to init) is noticed gone, and its status, which we
// cannot know, counts as 0 (§3.3, §11.2).
func TestNonChildInit(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	h := newHarness(t)
	start := time.Now()
	out, status := h.run(h.script(`sh -c 'sleep 0.3; exit 5' & echo $! >"$PIDFILE"`))
	if out.Kind != Exited || out.Status != 0 || status != 0 {
		t.Fatalf("outcome %+v status %d, want exited 0 (unknowable)", out, status)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 10*time.Second {
		t.Errorf("ended after %v: before the process did, or far too late", d)
	}
	if got := h.exitFile(); got != "0" {
		t.Errorf("exit file %q", got)
	}
}

// TestExecTimeoutMessage: an exec session that times out tells the engine
// so on the sync pipe.
func TestExecTimeoutMessage(t *testing.T) {
	h := newHarness(t)
	h.cfg.Exec, h.cfg.ReportPid = true, false
	h.cfg.Timeout = 200 * time.Millisecond
	out, _ := h.run(h.script(`setsid sleep 60 & echo $! >"$PIDFILE"`))
	if out.Kind != TimedOut {
		t.Fatalf("outcome %+v", out)
	}
	if msgs := h.messages(); len(msgs) != 1 || msgs[0] != `{"data": -1, "message": "command timed out"}` {
		t.Errorf("sync messages %q", msgs)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func eventuallyGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for unix.Kill(pid, 0) == nil {
		// A zombie of ours still answers kill(0); reap it if so.
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after the timeout's kill", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNoFdLeak: a whole life — spawn, pidfd, reaper, exit files, exit
// command — leaves no fd of the monitor's own behind.
func TestNoFdLeak(t *testing.T) {
	h := newHarness(t)
	h.cfg.ExitCommand = &exitcode.Command{Path: "/bin/true"}
	// The harness's sync pipe is made in run; count around a second run.
	h.run(h.script(`true & echo $! >"$PIDFILE"`))
	before := testutil.OpenFds(t)
	h2 := newHarness(t)
	h2.cfg.ExitCommand = &exitcode.Command{Path: "/bin/true"}
	h2.run(h2.script(`sh -c 'exit 2' & echo $! >"$PIDFILE"`))
	h2.syncR.Close()
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("%d fds open after a monitor's life, %d before", after, before)
	}
}
