package monitor

import (
	"time"
)

// wait forwards nothing itself (the I/O runs on its own) and returns once
// the container's process exits or --timeout expires.
func (m *Monitor) wait() Outcome {
	ctr := m.ctr
	m.started = time.Now()
	m.watch.Running(ctr)
	exits := m.reaper.Wait(ctr)
	track := trackExit(ctr)
	defer track.close()
	gone := track.gone
	var timeout <-chan time.Time
	if m.cfg.Timeout > 0 {
		t := time.NewTimer(m.cfg.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case ws := <-exits:
			return exited(ws)
		case <-timeout:
			m.reaper.Forget(ctr)
			return Outcome{Kind: TimedOut, Status: -1}
		case <-gone:
			if track.isChild() {
				gone = nil // a zombie of ours: the reaper collects its status
				continue
			}
			// Not our descendant (§3.3): its status is unknowable and
			// counts as 0, unless the reaper just collected it after all.
			select {
			case ws := <-exits:
				return exited(ws)
			case <-time.After(reapGrace):
				m.reaper.Forget(ctr)
				return Outcome{Kind: Exited, Status: 0}
			}
		}
	}
}
