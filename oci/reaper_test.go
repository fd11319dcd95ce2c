package oci

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// startSh starts /bin/sh -c script with stdio on /dev/null.
func startSh(t *testing.T, script string) int {
	t.Helper()
	null := openFile(t, os.DevNull, os.O_RDWR)
	l := sh(script)
	l.Files = []int{int(null.Fd()), int(null.Fd()), int(null.Fd())}
	pid, err := Start(l)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// procState returns the state letter of pid from /proc/<pid>/stat ("" if gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	state, _, _ := strings.Cut(rest, " ")
	return state
}

func (r *Reaper) hasEarly(pid int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.early[pid]
	return ok
}

func (r *Reaper) pending() (waiters, early int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters), len(r.early)
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("signal %v", ws.Signal())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}

func TestReaperStatuses(t *testing.T) {
	r := newReaper(t)
	for _, tc := range []struct {
		script string
		check  func(unix.WaitStatus) bool
	}{
		{"exit 0", func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 0 }},
		{"exit 3", func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 3 }},
		{"exit 255", func(ws unix.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 255 }},
		{"kill -9 $$", func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGKILL }},
		{"kill -TERM $$", func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGTERM }},
		// Stopped is not an exit: the waiter gets the kill, not the stop.
		{"kill -STOP $$; exit 9", func(ws unix.WaitStatus) bool { return ws.Signaled() && ws.Signal() == unix.SIGKILL }},
	} {
		t.Run(tc.script, func(t *testing.T) {
			pid := startSh(t, tc.script)
			ch := r.Wait(pid)
			if strings.Contains(tc.script, "STOP") {
				if !testutil.Within(waitTimeout, func() bool { return procState(pid) == "T" }) {
					t.Fatalf("child %d never stopped (state %q)", pid, procState(pid))
				}
				unix.Kill(pid, unix.SIGKILL)
			}
			select {
			case ws := <-ch:
				if !tc.check(ws) {
					t.Errorf("got %s (%#x)", describe(ws), uint32(ws))
				}
			case <-time.After(waitTimeout):
				t.Fatal("no exit reported")
			}
		})
	}
}

// A waiter registered while the child runs gets the exit when it happens.
func TestReaperWaitBeforeExit(t *testing.T) {
	r := newReaper(t)
	pid := startSh(t, "exec /bin/sleep 1000")
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	ch := r.Wait(pid)
	select {
	case ws := <-ch:
		t.Fatalf("reported %s while the child runs", describe(ws))
	default:
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case ws := <-ch:
		if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
			t.Errorf("got %s, want signal killed", describe(ws))
		}
	case <-time.After(waitTimeout):
		t.Fatal("no exit reported")
	}
}

// The container pid is learnt from the pidfile, possibly after it died:
// an exit reaped before anyone asked must still be reported.
func TestReaperEarlyExit(t *testing.T) {
	r := newReaper(t)
	pid := startSh(t, "exit 7")
	if !testutil.Within(waitTimeout, func() bool { return r.hasEarly(pid) }) {
		t.Fatalf("exit of %d never reaped (state %q)", pid, procState(pid))
	}
	if st := procState(pid); st != "" {
		t.Fatalf("pid %d still in /proc (state %q) although reaped", pid, st)
	}
	select {
	case ws := <-r.Wait(pid): // must be ready at once
		if !ws.Exited() || ws.ExitStatus() != 7 {
			t.Errorf("got %s, want exit 7", describe(ws))
		}
	default:
		t.Fatal("Wait after the exit was reaped did not report it at once")
	}
	if w, e := r.pending(); w != 0 || e != 0 {
		t.Errorf("after Wait: %d waiters, %d early exits kept, want none", w, e)
	}
}

func TestReaperManyChildren(t *testing.T) {
	r := newReaper(t)
	const n = 50
	pids := make([]int, n)
	chans := make([]<-chan unix.WaitStatus, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			l := sh(fmt.Sprintf("exit %d", i+1))
			pid, err := Start(l)
			if err != nil {
				errs <- err
				return
			}
			pids[i] = pid
			if i%2 == 0 { // half ask at once, half after all were started
				chans[i] = r.Wait(pid)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 1; i < n; i += 2 {
		chans[i] = r.Wait(pids[i])
	}

	seen := make(map[int]bool)
	var mu sync.Mutex
	for i := range n {
		wg.Go(func() {
			select {
			case ws := <-chans[i]:
				if !ws.Exited() || ws.ExitStatus() != i+1 {
					t.Errorf("child %d (pid %d): got %s, want exit %d", i, pids[i], describe(ws), i+1)
				}
				mu.Lock()
				if seen[pids[i]] {
					t.Errorf("pid %d reported twice", pids[i])
				}
				seen[pids[i]] = true
				mu.Unlock()
			case <-time.After(waitTimeout):
				t.Errorf("child %d (pid %d): no exit reported", i, pids[i])
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct exits reported, want %d", len(seen), n)
	}
	// Exactly once: nothing more arrives on any channel, nothing is left
	// over. The loop dispatches in order, so once a last child's exit has
	// been delivered, any stray second report would have landed.
	r.Kick()
	waitFor(t, r, startSh(t, "exit 0"))
	for i, ch := range chans {
		select {
		case ws := <-ch:
			t.Errorf("child %d reported a second time: %s", i, describe(ws))
		default:
		}
	}
	if w, e := r.pending(); w != 0 || e != 0 {
		t.Errorf("%d waiters and %d early exits left over, want none", w, e)
	}
}

func TestReaperForget(t *testing.T) {
	r := newReaper(t)
	pid := startSh(t, "exec /bin/sleep 1000")
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	ch := r.Wait(pid)
	r.Forget(pid)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The exit is still reaped (no zombie left), just not sent to ch ...
	if !testutil.Within(waitTimeout, func() bool { return r.hasEarly(pid) }) {
		t.Fatalf("exit of forgotten pid %d not reaped (state %q)", pid, procState(pid))
	}
	select {
	case ws := <-ch:
		t.Errorf("forgotten waiter got %s", describe(ws))
	default:
	}
	// ... and a later Wait still gets it.
	select {
	case ws := <-r.Wait(pid):
		if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
			t.Errorf("got %s, want signal killed", describe(ws))
		}
	default:
		t.Error("Wait after Forget did not report the exit")
	}
	r.Forget(12345678) // unknown pid: no effect
}

// Kick finds exits whose SIGCHLD the reaper never saw.
func TestReaperKick(t *testing.T) {
	// Exits before the reaper subscribes to SIGCHLD: only a Kick finds it.
	pid := startSh(t, "exit 4")
	if !testutil.Within(waitTimeout, func() bool { return procState(pid) == "Z" }) {
		t.Fatalf("child %d never became a zombie (state %q)", pid, procState(pid))
	}
	r := newReaper(t)
	ch := r.Wait(pid)
	r.Kick()
	r.Kick() // a second Kick never blocks
	select {
	case ws := <-ch:
		if !ws.Exited() || ws.ExitStatus() != 4 {
			t.Errorf("got %s, want exit 4", describe(ws))
		}
	case <-time.After(waitTimeout):
		t.Fatal("Kick did not reap the exited child")
	}
}

func TestReaperStop(t *testing.T) {
	r := StartReaper()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(r.Stop) // concurrent Stops all return
	}
	wg.Wait()
	r.Stop() // and again
	select {
	case <-r.stopped:
	default:
		t.Fatal("the loop is still running after Stop")
	}
	r.Kick() // after Stop: no block, no panic

	// Children that exit afterwards are left for a direct wait.
	pid := startSh(t, "exit 6")
	if !testutil.Within(waitTimeout, func() bool { return procState(pid) == "Z" }) {
		t.Fatalf("child %d: state %q, want a zombie nobody reaps", pid, procState(pid))
	}
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, 0, nil)
	if err != nil || got != pid {
		t.Fatalf("wait4(%d) = %d, %v", pid, got, err)
	}
	if !ws.Exited() || ws.ExitStatus() != 6 {
		t.Errorf("got %s, want exit 6", describe(ws))
	}
}

// Orphans reaped as subreaper are mostly never asked for: the exits kept
// for unknown pids are bounded, and the newest is kept.
func TestReaperEarlyBound(t *testing.T) {
	r := newReaper(t)
	const base = 1 << 30 // above any pid_max: no clash with real children
	for i := range maxEarly + 50 {
		r.dispatch(base+i, unix.WaitStatus(i<<8))
	}
	if _, e := r.pending(); e > maxEarly {
		t.Errorf("%d early exits kept, want at most %d", e, maxEarly)
	}
	last := base + maxEarly + 49
	select {
	case ws := <-r.Wait(last):
		if ws.ExitStatus() != (maxEarly+49)&0xff {
			t.Errorf("got %s", describe(ws))
		}
	default:
		t.Error("the newest early exit was dropped")
	}
}

func TestReaperNoFDLeak(t *testing.T) {
	r := newReaper(t)
	null := openFile(t, os.DevNull, os.O_RDWR)
	batch := func(n int) {
		for range n {
			l := sh("exit 0")
			l.Files = []int{int(null.Fd()), int(null.Fd()), int(null.Fd())}
			pid, err := Start(l)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, r, pid)
		}
	}
	batch(1) // warm up whatever the runtime opens once
	before := testutil.OpenFds(t)
	batch(20)
	// Neither must a failed exec, nor a failed Start.
	t.Run("exec fails", func(t *testing.T) {
		res := run(t, r, Launch{Path: "/nonexistent", Argv: []string{"x"}, ExecFailStatus: 127})
		wantExit(t, res, 127)
	})
	if _, err := Start(Launch{Path: "/bin/true", Argv: []string{"true"}, Dir: "/nonexistent"}); err == nil {
		t.Error("Start with a missing Dir succeeded")
	}
	if after := testutil.OpenFds(t); after != before {
		t.Errorf("open fds went from %d to %d", before, after)
	}
}
