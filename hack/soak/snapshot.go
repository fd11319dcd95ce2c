package main

import (
	"fmt"
	"os"
	"time"

	"github.com/shim-project/shim/hack/probe"
)

// memSlackKiB is how far RSS and Private_Dirty may end above their start.
const memSlackKiB = 1024

// snapshot is the before/after figures of the long-lived monitor and host.
type snapshot struct {
	fds, goroutines    int // goroutines -1: no metrics (conmon)
	rssKiB, privDirKiB int
	monitors, zombies  int           // zombies: in the soak's process tree
	hostZombies        int           // not checked: other work on the machine makes them too
	cpu                time.Duration // the monitor's own utime+stime
}

func (c *container) snapshot() (snapshot, error) {
	var s snapshot
	var err error
	if s.fds, err = countFDs(c.monPid); err != nil {
		return s, err
	}
	s.goroutines = -1
	if c.goroutine {
		if s.goroutines, err = probe.Goroutines(c.bundle); err != nil {
			return s, err
		}
	}
	if s.rssKiB, s.privDirKiB, err = memKiB(c.monPid); err != nil {
		return s, err
	}
	st, err := probe.ReadStat(c.monPid)
	if err != nil {
		return s, fmt.Errorf("monitor %d: %w", c.monPid, err)
	}
	s.cpu = st.Own
	s.monitors, s.zombies, s.hostZombies = hostCounts(c.monExe, c.id, os.Getpid())
	return s, nil
}

// violations lists the bounds that after breaks against before: fds and
// goroutines exactly back, memory at most memSlackKiB above, the
// container's monitors back to their number, no more zombies in the
// soak's process tree.
func violations(before, after snapshot) []string {
	var v []string
	if after.fds != before.fds {
		v = append(v, "fds")
	}
	if after.goroutines != before.goroutines {
		v = append(v, "goroutines")
	}
	if after.rssKiB > before.rssKiB+memSlackKiB {
		v = append(v, "rss")
	}
	if after.privDirKiB > before.privDirKiB+memSlackKiB {
		v = append(v, "private_dirty")
	}
	if after.monitors != before.monitors {
		v = append(v, "monitors")
	}
	if after.zombies > before.zombies {
		v = append(v, "zombies")
	}
	return v
}

// settle polls for up to limit until after meets the bounds against
// before (PID 1 here reaps orphaned zombies only after a second or two, and
// a monitor frees memory a moment after the load), and returns the last
// figures and the bounds still broken.
func (c *container) settle(before snapshot, limit time.Duration) (snapshot, []string, error) {
	deadline := time.Now().Add(limit)
	for {
		after, err := c.snapshot()
		if err != nil {
			return after, nil, err
		}
		v := violations(before, after)
		if len(v) == 0 || time.Now().After(deadline) {
			return after, v, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
