package attach

import "sync/atomic"

// Stats are the attach socket's running totals, for observers such as the
// monitor's metrics endpoint. Reading them takes no lock the data path uses.
type Stats struct {
	Clients          uint64 // connected now
	Accepted         uint64 // connections accepted since Listen
	SlowDisconnects  uint64 // clients dropped for taking nothing for StallTimeout with a full queue
	SlowDroppedBytes uint64 // output those clients never got: their queue plus the chunk that did not fit
	InputBytes       uint64 // client input written to the container's stdin
	Replays          uint64 // clients that got the scrollback (§16.6) first
	ReplayBytes      uint64 // scrollback bytes queued for them
}

// counters are the Server's side of Stats.
type counters struct {
	slow, slowBytes, input, replays, replayBytes atomic.Uint64
}

// slowDrop counts a client dropped for lagging, and the chunk it did not
// get; what is still queued for it is added by settle.
func (c *counters) slowDrop(q *frameQueue, refused int) {
	q.data.slow.Store(true)
	c.slow.Add(1)
	c.slowBytes.Add(uint64(refused))
}

// settle runs when a client's writer has stopped: for a client dropped for
// lagging, the payload it never received is now final (its writer's last
// frame included, if the write failed).
func (c *counters) settle(q *frameQueue) {
	if q.data.slow.Load() {
		c.slowBytes.Add(uint64(max(q.data.n.Load(), 0)))
	}
}

// Stats returns the current totals; safe to call from any goroutine.
func (s *Server) Stats() Stats {
	return Stats{
		Clients:          uint64(s.numClients()),
		Accepted:         s.nextID.Load(),
		SlowDisconnects:  s.stats.slow.Load(),
		SlowDroppedBytes: s.stats.slowBytes.Load(),
		InputBytes:       s.stats.input.Load(),
		Replays:          s.stats.replays.Load(),
		ReplayBytes:      s.stats.replayBytes.Load(),
	}
}

// payloadCount is a queue's payload from push until the writer's write(2)
// succeeded, and whether the client was dropped for lagging.
type payloadCount struct {
	n    atomic.Int64
	slow atomic.Bool
}

func (p *payloadCount) add(n int) { p.n.Add(int64(n)) }
