package monitor

import (
	"errors"
	"fmt"
	"sync"
)

// State is where the monitor is in the container's life.
//
//	Creating ──created──▶ Running ──exited──▶ Exiting ──done──▶ Done
//	    └───────────────failed──────────────────▲
//
// Creating: the runtime runs, the container pid is not known; a forwarded
// signal goes to the runtime. Running: the pid is known and the output is
// being copied; signals go to the container. Exiting: the container is gone
// (or timed out, or creation failed): drain, exit files, exit command;
// signals are no longer forwarded.
type State int

const (
	Creating State = iota
	Running
	Exiting
	Done
)

func (s State) String() string {
	switch s {
	case Creating:
		return "creating"
	case Running:
		return "running"
	case Exiting:
		return "exiting"
	case Done:
		return "done"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// ErrTransition is an illegal move between states: a bug, never ignored.
var ErrTransition = errors.New("illegal state transition")

// legal reports whether the lifecycle may move from one state to another.
func legal(from, to State) bool {
	switch from {
	case Creating:
		return to == Running || to == Exiting // created, or failed
	case Running:
		return to == Exiting // exited, or timed out
	case Exiting:
		return to == Done // exit sequence finished
	}
	return false
}

// machine holds the state and the pids signals go to; signal forwarding
// reads it from another goroutine.
type machine struct {
	mu         sync.Mutex
	state      State
	runtimePid int
	ctrPid     int
}

// move makes a transition, or reports why it is illegal.
func (m *machine) move(to State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.moveLocked(to)
}

func (m *machine) moveLocked(to State) error {
	if !legal(m.state, to) {
		return fmt.Errorf("%w: %s to %s", ErrTransition, m.state, to)
	}
	m.state = to
	return nil
}

// spawned records the runtime's pid; only while creating.
func (m *machine) spawned(pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != Creating {
		return fmt.Errorf("%w: runtime spawned while %s", ErrTransition, m.state)
	}
	m.runtimePid = pid
	return nil
}

// created moves to Running with the container's pid.
func (m *machine) created(ctr int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.moveLocked(Running); err != nil {
		return err
	}
	m.ctrPid = ctr
	return nil
}

// current is the state now.
func (m *machine) current() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// signalTarget is whom a forwarded signal goes to in the current state
// (§3.2): the runtime while creating, the container while running, nobody
// after; 0 when there is nobody.
func (m *machine) signalTarget() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case Creating:
		return m.runtimePid
	case Running:
		return m.ctrPid
	}
	return 0
}
