package attach

import (
	"runtime/debug"
	"time"
)

// Giving memory back after a burst of clients. Go keeps the heap a burst
// made it grow to, and returns freed pages to the OS only slowly, so an idle
// monitor that had 10,000 clients connect and go would stay at its peak for
// minutes (issue 11). Once a burst is over, the monitor is idle again and a
// forced collection costs next to nothing, so the memory is given back then:
// releaseDelay after the last client of a burst of at least burstClients has
// gone, unless clients are back by then (then the next time the last one
// goes). No timer runs while nobody connects (issue 12: an idle monitor is
// never woken).
//
// During a long burst, the garbage of every collectEvery clients (some
// 600 bytes each) is collected at once by the watcher, between two batches
// of events. Otherwise the heap grows to Go's minimum goal (4 MB) before the
// first collection, and the runtime's own bookkeeping for a heap that size
// (mark bits, span structures) stays resident for good, release or not.
const (
	burstClients = 512
	releaseDelay = 250 * time.Millisecond
	collectEvery = 2048
)

// collectDue reports, once per collectEvery clients accepted, that the
// watcher should collect garbage now.
func (s *Server) collectDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sinceCollect < collectEvery {
		return false
	}
	s.sinceCollect = 0
	return true
}

// releaseAfterBurst runs when the last client has gone; s.mu is held.
func (s *Server) releaseAfterBurst() {
	if s.burst < burstClients || s.releaseTimer != nil || s.closing {
		return
	}
	s.releaseTimer = time.AfterFunc(releaseDelay, s.releaseMemory)
}

func (s *Server) releaseMemory() {
	s.mu.Lock()
	s.releaseTimer = nil
	if s.closing || s.set.n.Load() > 0 {
		s.mu.Unlock()
		return
	}
	s.burst = 0
	s.mu.Unlock()
	if s.opts.ReleaseMemory != nil {
		s.opts.ReleaseMemory()
		return
	}
	debug.FreeOSMemory()
}
