package attach

import "time"

// What happens when a client cannot keep up (issue 3, §8.2).
//
// conmon writes to every client blocking: a client that reads slowly slows
// the container, and one that stops reading stops it for good. Dropping a
// lagging client instead would keep the container going, but it loses
// output that people rely on: `podman run IMAGE cmd | consumer` receives the
// container's output through podman's own attach client, so a consumer that
// pauses for a moment (a pipeline starting up, a pager) would cut the output
// short, silently. So shim keeps conmon's guarantee for clients that read,
// and limits what a client that does not read can do:
//
//   - each client has a queue of QueueLimit bytes, so a client lagging by
//     less than that costs the data path nothing;
//   - when the queue is full, Broadcast waits for room (back-pressure: the
//     container's pipe fills and it waits too, as with conmon; the log is
//     written before Broadcast and never lags behind the clients);
//   - a client that takes nothing for StallTimeout while the data path waits
//     for it is stuck: it is dropped with a warning and output flows again,
//     so a stuck client stalls the container once, for StallTimeout;
//   - once the container has exited (Options.Exiting) the bound is
//     FlushTimeout instead, so the exit files are not held up (§11.1).

// closeFlushes bounds Close: at most this many FlushTimeouts in total, for a
// client that keeps taking a trickle.
const closeFlushes = 3

// progressed records a completed write and wakes a waiting Broadcast.
func (c *client) progressed() {
	c.writes.Add(1)
	select {
	case c.q.progress <- struct{}{}:
	default:
	}
}

// waitRoom pushes p to c, whose queue is full, once the writer has made
// room; it drops c if the writer completes no write for the stall bound.
// The bound counts from when the write in flight began, so several stuck
// clients hold the data path for one bound together, not one each.
func (s *Server) waitRoom(c *client, stream byte, p []byte) {
	limit := s.opts.StallTimeout
	if s.opts.Exiting != nil && s.opts.Exiting() {
		limit = s.opts.FlushTimeout
	}
	c.signal() // the writer drains whatever made the queue full
	first := limit
	if ws := c.writeStart.Load(); ws != 0 {
		first = max(limit-time.Since(time.Unix(0, ws)), 0)
	}
	timer := time.NewTimer(first)
	defer timer.Stop()
	seen := c.writes.Load()
	dead := c.deadChan()
	for {
		select {
		case <-c.q.progress:
		case <-dead:
			return
		case <-s.done:
			return // Close flushes what is queued; this chunk comes too late
		case <-timer.C:
			if c.writes.Load() == seen {
				s.log.Warnf("attach client %d took no output for %v with %d bytes queued; disconnecting it",
					c.id, limit, c.q.size())
				s.stats.slowDrop(&c.q, len(p))
				c.shutdown()
				return
			}
		}
		switch c.q.push(stream, p) {
		case pushed:
			c.signal()
			return
		case pushDead:
			return
		}
		if w := c.writes.Load(); w != seen {
			seen = w
			timer.Reset(limit)
		}
	}
}
