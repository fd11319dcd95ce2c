package attach

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// ctlBurst gives back the memory of a burst of control messages. Each
// message costs a few small allocations (a reopen's path strings, the
// diagnostics); 10,000 of them made the idle monitor's heap grow to Go's
// 4 MB minimum goal and stay there (issue 11's soak: Private_Dirty +4 MiB).
// As for attach clients (release.go): the garbage of every collectEvery
// messages is collected at once while the burst goes on, and once no
// message came for releaseDelay the memory goes back to the OS. The pause
// is noticed with a read deadline on the FIFO, set only after a burst: no
// timer runs while nobody writes.
type ctlBurst struct {
	since   int  // messages since the last collection
	total   int  // messages since the last release
	pending bool // a release is due once the burst ends
}

const ctlCollectEvery = 256

// handled counts n messages from one read and reports whether to collect
// now.
func (b *ctlBurst) handled(n int) bool {
	b.since += n
	b.total += n
	if b.total >= burstClients {
		b.pending = true
	}
	if b.since < ctlCollectEvery {
		return false
	}
	b.since = 0
	return true
}

// afterRead collects if due and, while a release is pending, arms r's
// deadline for the end of the burst.
func (b *ctlBurst) afterRead(r *os.File, n int) {
	if b.handled(n) {
		runtime.GC()
	}
	if b.pending {
		_ = r.SetReadDeadline(time.Now().Add(releaseDelay))
	}
}

// quiet runs when the deadline expired: the burst is over.
func (b *ctlBurst) quiet(r *os.File) {
	_ = r.SetReadDeadline(time.Time{})
	*b = ctlBurst{}
	debug.FreeOSMemory()
}
