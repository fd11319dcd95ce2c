package monitor

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/oci"
)

// reapGrace bounds the wait for the reaper's status once the container pid
// is gone and is no unreaped child of ours: either it never was our child
// (its status is unknowable, §3.3) or the reaper reaped it this instant and
// is about to hand the status over.
const reapGrace = 500 * time.Millisecond

// exitTracker notices that the container process is gone even when its exit
// never reaches the reaper (its init is not our descendant). A pidfd cannot
// be fooled by the pid being reused; without pidfds (kernel < 5.3) a
// non-child is probed with kill(pid, 0) every 100 ms as conmon HEAD does.
type exitTracker struct {
	pfd  *oci.Pidfd
	gone <-chan struct{}
	stop chan struct{}
}

func trackExit(pid int) *exitTracker {
	t := &exitTracker{stop: make(chan struct{})}
	pfd, err := oci.OpenPidfd(pid)
	switch {
	case err == nil:
		t.pfd, t.gone = pfd, pfd.Gone()
	case errors.Is(err, unix.ESRCH):
		// Already gone (and reaped, if it was ours: the reaper has it).
		c := make(chan struct{})
		close(c)
		t.gone = c
	default:
		if !isChildOf(pid, os.Getpid()) {
			t.gone = probeGone(pid, t.stop)
		}
	}
	return t
}

// isChild reports whether the process, now gone, is an unreaped child of
// ours, whose status the reaper is about to collect.
func (t *exitTracker) isChild() bool { return t.pfd != nil && t.pfd.IsChild() }

func (t *exitTracker) close() {
	close(t.stop)
	if t.pfd != nil {
		t.pfd.Close()
	}
}

// probeGone closes the returned channel once kill(pid, 0) says ESRCH.
func probeGone(pid int, stop <-chan struct{}) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if unix.Kill(pid, 0) == unix.ESRCH {
					close(c)
					return
				}
			}
		}
	}()
	return c
}

// isChildOf reads the parent pid of pid from /proc.
func isChildOf(pid, parent int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone already, or unreadable: the reaper will tell
	}
	ppid, ok := statPPid(string(b))
	return !ok || ppid == parent
}

// statPPid is the parent pid field of a /proc/PID/stat line. The command
// name in parentheses may hold spaces and ')', so fields are counted after
// the last ')'.
func statPPid(s string) (int, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
