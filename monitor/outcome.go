package monitor

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/exitcode"
)

// Kind is how the container's life ended.
type Kind int

const (
	// SetupFailed: the monitor could not prepare the container's I/O; the
	// runtime never ran. No exit files, no exit command; status 1.
	SetupFailed Kind = iota + 1
	// CreateFailed: the runtime failed, or left no usable pid or terminal.
	// The engine got {"data": -1, ...}; no exit files, but the exit
	// command runs (§5.2, §11.4); status 1.
	CreateFailed
	// Exited: the container's process ended; Status is recorded.
	Exited
	// TimedOut: --timeout expired first (§11.5); status -1 is recorded.
	TimedOut
)

func (k Kind) String() string {
	switch k {
	case SetupFailed:
		return "setup failed"
	case CreateFailed:
		return "create failed"
	case Exited:
		return "exited"
	case TimedOut:
		return "timed out"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Outcome is how the container ended: what the exit sequence records and
// how the monitor itself exits.
type Outcome struct {
	Kind   Kind
	Status int   // the container's status (§11.2) when it ran
	Signal int   // the signal that ended it, if one did (Status is then 128+Signal)
	Err    error // why setup or creation failed
	// Message is what the engine was told of a failed create: usually the
	// runtime's own error text (§5.2).
	Message string
}

// Ran reports whether the container ran, so that its status is drained,
// recorded in the exit files and reported.
func (o Outcome) Ran() bool { return o.Kind == Exited || o.Kind == TimedOut }

// runsExitCommand reports whether the exit command is due (§11.4): after
// the container ran, and after a failed create, but not when the monitor
// failed before the runtime ran.
func (o Outcome) runsExitCommand() bool { return o.Kind != SetupFailed }

// exited is the outcome of a wait status.
func exited(ws unix.WaitStatus) Outcome {
	out := Outcome{Kind: Exited, Status: exitcode.Status(ws)}
	if ws.Signaled() {
		out.Signal = int(ws.Signal())
	}
	return out
}

// record is exit.json's part that the lifecycle knows (§16.3); the Watcher
// adds the rest (OOM, logs, memory).
func (o Outcome) record(started, finished time.Time) exitcode.Record {
	r := exitcode.Record{FinishedAt: exitcode.Timestamp(finished), TimedOut: o.Kind == TimedOut}
	if !started.IsZero() {
		ts := exitcode.Timestamp(started)
		r.StartedAt = &ts
	}
	switch o.Kind {
	case Exited:
		r.Outcome = exitcode.OutcomeExited
	case TimedOut:
		r.Outcome = exitcode.OutcomeTimedOut
	case CreateFailed:
		r.Outcome = exitcode.OutcomeCreateFailed
	default:
		r.Outcome = exitcode.OutcomeSetupFailed
	}
	if o.Ran() {
		st := o.Status
		r.ExitCode = &st
	}
	if o.Signal > 0 {
		r.Signal = exitcode.NewSignal(unix.Signal(o.Signal))
	}
	switch {
	case o.Message != "":
		r.Error = o.Message
	case o.Err != nil:
		r.Error = o.Err.Error()
	}
	return r
}
