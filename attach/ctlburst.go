package attach

import (
	"os"
	"time"
)

// ctlBurst notices the end of a burst of control messages, to run the
// FIFOs' Quiet hook then (the monitor gives the heap's free pages back to
// the kernel if a collection ran during the burst). A ctl message itself
// allocates nothing on the default log level (the handler, a reopen's
// syscalls), so a burst normally leaves no garbage; but 10,000 of them used
// to make the heap grow to Go's 4 MB minimum goal and stay there (issue
// 11's soak: Private_Dirty +4 MiB). The end is noticed with a read
// deadline on the FIFO, set only after a burst of at least burstClients
// messages: no timer runs while nobody writes.
type ctlBurst struct {
	total   int  // messages since the last quiet
	pending bool // a burst is under way
}

// afterRead counts n messages from one read and, during a burst, moves r's
// deadline to releaseDelay from now.
func (b *ctlBurst) afterRead(r *os.File, n int) {
	b.total += n
	if b.total >= burstClients {
		b.pending = true
	}
	if b.pending {
		_ = r.SetReadDeadline(time.Now().Add(releaseDelay))
	}
}

// quiet runs when the deadline expired: the burst is over.
func (b *ctlBurst) quiet(r *os.File, hook func()) {
	_ = r.SetReadDeadline(time.Time{})
	*b = ctlBurst{}
	if hook != nil {
		hook()
	}
}
