package attach

import "sync/atomic"

// clientSet holds the connected clients. Adding and removing one are O(1),
// so a connection storm costs time linear in its size (issue 11: a list
// copied on every accept and removal made 25,000 connects quadratic):
//
//   - a list linked through the clients, newest first, the order in which
//     Broadcast serves them (§8.2);
//   - a table of slots that the watcher's epoll events name a client by,
//     together with a tag (the low bits of its id), so an event still in
//     flight for a client that is gone, whose slot was reused, is ignored.
//
// Server.mu guards everything but n, which Broadcast reads without a lock.
type clientSet struct {
	head  *client
	slots []*client
	free  []int32 // unused slots
	n     atomic.Int32
	gen   atomic.Uint64 // bumped on every change: Broadcast's snapshot is stale
}

// keepSlots: a table no larger than this is kept when the last client
// leaves; a bigger one, left by a storm, is dropped with it.
const keepSlots = 64

// add puts c in; c.slot is then fixed for good (the epoll registration
// carries it), and stays c's even after remove, which only frees it.
func (cs *clientSet) add(c *client) {
	if k := len(cs.free); k > 0 {
		c.slot = cs.free[k-1]
		cs.free = cs.free[:k-1]
		cs.slots[c.slot] = c
	} else {
		c.slot = int32(len(cs.slots))
		cs.slots = append(cs.slots, c)
	}
	c.next = cs.head
	if cs.head != nil {
		cs.head.prev = c
	}
	cs.head = c
	cs.n.Add(1)
	cs.gen.Add(1)
}

// remove takes c out; false if it was not in the set.
func (cs *clientSet) remove(c *client) bool {
	if c.slot < 0 || int(c.slot) >= len(cs.slots) || cs.slots[c.slot] != c {
		return false
	}
	cs.slots[c.slot] = nil
	cs.free = append(cs.free, c.slot)
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		cs.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	cs.gen.Add(1)
	if cs.n.Add(-1) == 0 && cap(cs.slots) > keepSlots {
		cs.slots, cs.free = nil, nil
	}
	return true
}

// lookup returns the client in slot whose tag matches, or nil.
func (cs *clientSet) lookup(slot int32, tag int32) *client {
	if slot < 0 || int(slot) >= len(cs.slots) {
		return nil
	}
	if c := cs.slots[slot]; c != nil && c.tag() == tag {
		return c
	}
	return nil
}

// appendTo appends the clients to dst, newest first.
func (cs *clientSet) appendTo(dst []*client) []*client {
	for c := cs.head; c != nil; c = c.next {
		dst = append(dst, c)
	}
	return dst
}
