package attach

// Reusing clients. A client is one allocation (client.go); a storm of
// connect-and-close would still make one per connection, enough garbage for
// Go to collect and, at the end, for a release (release.go), and a first
// collection costs the process some 300-500 KiB of runtime bookkeeping for
// good. The watcher therefore reuses what it drops itself: a client that no
// other goroutine can hold (never in a Broadcast snapshot or Close's list,
// never given an input goroutine; its writer could only have started from
// one of those) goes to s.spare, and a sequential storm on an idle
// container allocates nothing per connection.

// keepSpare bounds the spare clients: enough for the connections that
// overlap in a storm (a backlog of 10, accepted acceptBatch at a time).
const keepSpare = 64

// markShared records that clients may be held outside the watcher; s.mu
// is held.
func markShared(list []*client) {
	for _, c := range list {
		c.shared.Store(true)
	}
}

// drop shuts c down on the watcher and keeps it for reuse if nobody else
// can hold it.
func (c *client) drop() {
	if !c.shutdown() {
		return // someone else did: they hold c
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || c.shared.Load() || len(s.spare) >= keepSpare {
		return
	}
	*c = client{fd: -1, slot: -1}
	s.spare = append(s.spare, c)
}
