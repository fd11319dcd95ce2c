package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/hack/probe"
)

// exited is a child's end: its wait status and its /proc/PID/stat read
// while it was a zombie (own CPU to the last tick, and what it reaped).
type exited struct {
	status unix.WaitStatus
	stat   probe.Stat
	err    error // reading the stat
}

// reaper is the one place that waits for this process's children. The soak
// is a child subreaper, so besides the processes it starts it adopts the
// daemons of the monitors that podman starts (the long-lived one and every
// `podman exec`'s), which fork away from podman. Each exit is seen with
// WNOWAIT first, so the zombie's /proc/PID/stat still holds its CPU times.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan exited
	comm    string // adopted processes with this comm are exec monitors
	adopted struct {
		n   int
		cpu time.Duration
	}
	wake chan struct{}
}

func newReaper() (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	r := &reaper{waiters: map[int]chan exited{}, wake: make(chan struct{}, 1)}
	go r.loop()
	return r, nil
}

// start starts argv with attr; the exit arrives on the returned channel.
// The lock is held across the start so an early exit finds its waiter.
func (r *reaper) start(argv []string, attr *os.ProcAttr) (int, <-chan exited, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	ch := make(chan exited, 1)
	r.waiters[p.Pid] = ch
	pid := p.Pid
	p.Release() // the reaper waits by pid
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return pid, ch, nil
}

// watchComm makes adopted exits with this comm count as exec monitors.
func (r *reaper) watchComm(comm string) {
	r.mu.Lock()
	r.comm = comm
	r.mu.Unlock()
}

// adoptedMonitors is how many adopted exec monitors exited so far and
// their own CPU.
func (r *reaper) adoptedMonitors() (int, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adopted.n, r.adopted.cpu
}

// awaitAdopted waits up to limit until n adopted exec monitors have exited
// (the last daemon may still be on its way out when podman returns), then
// returns adoptedMonitors.
func (r *reaper) awaitAdopted(n int, limit time.Duration) (int, time.Duration) {
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		if k, cpu := r.adoptedMonitors(); k >= n || time.Now().After(deadline) {
			return k, cpu
		}
	}
}

func (r *reaper) loop() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil { // ECHILD: nothing to wait for until the next start
			select {
			case <-r.wake:
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		pid := siginfoPid(&info)
		st, serr := probe.ReadStat(pid)
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		r.mu.Lock()
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- exited{status: ws, stat: st, err: serr}
		} else if serr == nil && r.comm != "" && st.Comm == r.comm {
			r.adopted.n++
			r.adopted.cpu += st.Own
		}
		r.mu.Unlock()
	}
}

// siginfoPid is si_pid of a SIGCHLD siginfo_t: x/sys/unix leaves the union
// opaque; on 64-bit Linux it starts at byte 16 and si_pid is its first int.
func siginfoPid(info *unix.Siginfo) int {
	b := (*[24]byte)(unsafe.Pointer(info))
	return int(int32(binary.NativeEndian.Uint32(b[16:20])))
}

// wait waits for a started child, up to limit.
func wait(ch <-chan exited, what string, limit time.Duration) (exited, error) {
	select {
	case e := <-ch:
		return e, nil
	case <-time.After(limit):
		return exited{}, fmt.Errorf("%s still running after %v", what, limit)
	}
}
