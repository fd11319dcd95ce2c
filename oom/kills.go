package oom

import (
	"os"
	"path/filepath"
	"sync/atomic"
)

// killCount follows the kernel's oom_kill counter of one memory cgroup for
// observers (the metrics endpoint reads it at scrape time). Unlike the
// source's counters, which only tell whether something changed, it is the
// cgroup's total, and it keeps the last value read: once the container is
// gone, its cgroup may be too.
type killCount struct {
	path  string // memory.events (v2) or memory.oom_control (v1)
	last  atomic.Uint64
	known atomic.Bool
}

// killsFile is the file of cg that holds the "oom_kill N" line.
func killsFile(cg Cgroup) string {
	if cg.V1 {
		return filepath.Join(cg.Dir, "memory.oom_control")
	}
	return filepath.Join(cg.Dir, "memory.events")
}

// read reads the counter again, if the file is still there; observers may
// call it concurrently, hence atomics.
func (k *killCount) read() (uint64, bool) {
	if b, err := os.ReadFile(k.path); err == nil {
		// memory.oom_control's lines have memory.events' shape ("key N").
		if c, _ := parseEvents(b); c.hasKill && c.kill >= 0 {
			k.last.Store(uint64(c.kill))
			k.known.Store(true)
		}
	}
	return k.last.Load(), k.known.Load()
}

// OOMKills reads the oom_kill counter of the container's memory cgroup now:
// the cgroup's total, earlier kills included. Once the cgroup is gone it
// returns the last count read; ok is false until a count was read, and for a
// nil Watcher. Safe from any goroutine, also after Final.
func (w *Watcher) OOMKills() (n uint64, ok bool) {
	if w == nil {
		return 0, false
	}
	return w.kills.read()
}
