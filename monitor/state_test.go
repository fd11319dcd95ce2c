package monitor

import (
	"errors"
	"testing"
)

// TestTransitions: every legal move works, every other one is an error.
func TestTransitions(t *testing.T) {
	states := []State{Creating, Running, Exiting, Done}
	want := map[[2]State]bool{{Creating, Running}: true, {Creating, Exiting}: true,
		{Running, Exiting}: true, {Exiting, Done}: true}
	for _, from := range states {
		for _, to := range states {
			if legal(from, to) != want[[2]State{from, to}] {
				t.Errorf("legal(%s, %s) = %v", from, to, !want[[2]State{from, to}])
			}
		}
	}
	for _, from := range states {
		for _, to := range states {
			m := &machine{state: from}
			err := m.move(to)
			if legal(from, to) {
				if err != nil || m.current() != to {
					t.Errorf("%s → %s: %v, now %s", from, to, err, m.current())
				}
				continue
			}
			if !errors.Is(err, ErrTransition) || m.current() != from {
				t.Errorf("%s → %s: err %v, now %s; want ErrTransition and no move", from, to, err, m.current())
			}
		}
	}
}

// TestSignalTarget: the runtime while creating, the container while
// running, nobody after (§3.2).
func TestSignalTarget(t *testing.T) {
	m := &machine{}
	if m.signalTarget() != 0 {
		t.Fatal("a target before the runtime was spawned")
	}
	if err := m.spawned(10); err != nil {
		t.Fatal(err)
	}
	if got := m.signalTarget(); got != 10 {
		t.Fatalf("creating: target %d, want the runtime 10", got)
	}
	if err := m.created(20); err != nil {
		t.Fatal(err)
	}
	if got := m.signalTarget(); got != 20 {
		t.Fatalf("running: target %d, want the container 20", got)
	}
	if err := m.spawned(30); !errors.Is(err, ErrTransition) {
		t.Fatalf("spawning a runtime while running: %v", err)
	}
	if err := m.move(Exiting); err != nil {
		t.Fatal(err)
	}
	if got := m.signalTarget(); got != 0 {
		t.Fatalf("exiting: target %d, want none", got)
	}
	if err := m.created(40); !errors.Is(err, ErrTransition) {
		t.Fatalf("created after exit: %v", err)
	}
}
