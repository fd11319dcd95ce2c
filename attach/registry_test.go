package attach

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestClientSetMatchesModel adds and removes clients at random and compares
// with a plain slice, newest first: the order Broadcast serves (§8.2), the
// count, and the slot lookup that the watcher's events use, which must not
// find a client that is gone even when its slot was reused.
func TestClientSetMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var cs clientSet
	var model []*client // newest first
	var gone []*client
	id := uint64(0)
	for step := range 20000 {
		if len(model) == 0 || rng.IntN(2) == 0 {
			id++
			c := &client{id: id, slot: -1}
			cs.add(c)
			model = append([]*client{c}, model...)
		} else {
			i := rng.IntN(len(model))
			c := model[i]
			if !cs.remove(c) {
				t.Fatalf("step %d: remove of a member failed", step)
			}
			if cs.remove(c) {
				t.Fatalf("step %d: second remove succeeded", step)
			}
			model = slices.Delete(model, i, i+1)
			gone = append(gone, c)
		}
		if got := cs.appendTo(nil); !slices.Equal(got, model) || int(cs.n.Load()) != len(model) {
			t.Fatalf("step %d: set has %d clients (n=%d), model %d, or another order", step, len(got), cs.n.Load(), len(model))
		}
		for _, c := range model {
			if cs.lookup(c.slot, c.tag()) != c {
				t.Fatalf("step %d: lookup of client %d in slot %d failed", step, c.id, c.slot)
			}
		}
		if len(gone) > 0 {
			c := gone[rng.IntN(len(gone))]
			if cs.lookup(c.slot, c.tag()) != nil {
				t.Fatalf("step %d: lookup found client %d, which is gone", step, c.id)
			}
		}
	}
}

// TestClientSetDropsStormTable: once the last client of a storm has gone,
// its slot table goes too.
func TestClientSetDropsStormTable(t *testing.T) {
	var cs clientSet
	var all []*client
	for i := range 10 * keepSlots {
		c := &client{id: uint64(i + 1), slot: -1}
		cs.add(c)
		all = append(all, c)
	}
	for _, c := range all {
		cs.remove(c)
	}
	if cs.slots != nil || cs.free != nil || cs.head != nil {
		t.Fatalf("empty set keeps %d slots, %d free", cap(cs.slots), cap(cs.free))
	}
}
