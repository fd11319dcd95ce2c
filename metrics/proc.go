package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/shim-project/shim/oom"
)

// residentBytes is the monitor's resident set size, from /proc/self/statm
// (its second field, in pages).
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

// oomCounter follows the oom_kill count of the container's memory cgroup.
// The last value read is kept: after the container is gone its cgroup may be
// too.
type oomCounter struct {
	file  atomic.Pointer[string] // the file holding "oom_kill N"; nil if unknown
	last  atomic.Uint64
	known atomic.Bool
}

// watch counts the OOM kills of cg from now on; nothing is read until a
// scrape or the container's exit asks.
func (o *oomCounter) watch(cg oom.Cgroup) {
	f := oomFile(cg)
	o.file.Store(&f)
}

// refresh reads the count again, if the cgroup is known and still there.
func (o *oomCounter) refresh() {
	f := o.file.Load()
	if f == nil {
		return
	}
	b, err := os.ReadFile(*f)
	if err != nil {
		return
	}
	if n, ok := oomKills(b); ok {
		o.last.Store(n)
		o.known.Store(true)
	}
}

// value refreshes and returns the count, if it was ever read.
func (o *oomCounter) value() (uint64, bool) {
	o.refresh()
	return o.last.Load(), o.known.Load()
}

// oomFile is the file of cg that counts OOM kills: memory.oom_control on
// cgroup v1, memory.events on v2.
func oomFile(cg oom.Cgroup) string {
	if cg.V1 {
		return filepath.Join(cg.Dir, "memory.oom_control")
	}
	return filepath.Join(cg.Dir, "memory.events")
}

// oomKills reads the "oom_kill N" line of memory.events or memory.oom_control.
func oomKills(b []byte) (uint64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
