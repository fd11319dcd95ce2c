// Package monitor owns the container's lifecycle inside the daemon: it
// spawns the runtime, learns the container's pid, forwards signals, waits
// for the exit (or the timeout), and runs the exit sequence of §11.1 —
// drain, exit files, the exec sync message, the exit command.
//
//	engine ──sync pipe◀── {"data": pid} ─── monitor ──spawn──▶ runtime create
//	                                          │ reaper (wait4 -1)   └─▶ container (reparented to us)
//	                                          │ pidfd / kill(0) probe ─┘
//	                                          └─▶ exit/oom files, {"exit_code"}, exit command
//
// The phases are explicit states (state.go); the result is an Outcome.
package monitor

import (
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/oci"
)

// Logger takes the monitor's diagnostics (§12.3).
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

// Runtime starts `runtime create|exec|restore` and returns its pid; the
// monitor collects its exit through the reaper.
type Runtime interface {
	Spawn() (pid int, err error)
}

// IO is the container's I/O as the lifecycle drives it (package cio).
type IO interface {
	RuntimeStderr() string
	HasConsole() bool
	ReceiveConsole(timeout time.Duration) error
	StartOutput()
	StopOutput(drain, sync bool)
	CloseAttach()
	Unlink()
	RemoveSymlink()
}

// Watcher is told when the container runs and when it is gone: the OOM
// watch and the metrics. Final runs first in the exit sequence, so the oom
// files exist before the exit files (§11.1 step 1); Exited after the drain;
// Close at the very end.
type Watcher interface {
	Running(ctr int)
	Final()
	Exited(status int)
	// Record adds what the lifecycle does not know to the exit record
	// (§16.3): the OOM verdict, the log totals, the monitor's memory.
	Record(r *exitcode.Record)
	Close()
}

// Config is what the lifecycle needs from the command line.
type Config struct {
	Exec       bool   // an exec session: the sync pipe gets {"exit_code"} at the end
	ReportPid  bool   // the container pid goes to the sync pipe (not for legacy exec)
	PidFile    string // the runtime's --pid-file
	Timeout    time.Duration
	ExitFiles  exitcode.Files
	NoSyncLogs bool // --no-sync-log: no fsync when the logs close

	// The exit command (§11.4), run with the monitor's environment and the
	// engine's oom_score_adj after ExitDelay; none when ExitCommand is nil.
	ExitCommand *exitcode.Command
	ExitDelay   time.Duration
	OOMScoreAdj string
}

// consoleTimeout bounds the wait for the runtime's pty master.
const consoleTimeout = 2 * time.Second

// Monitor runs one container's (or exec session's) life.
type Monitor struct {
	cfg     Config
	log     Logger
	sync    *oci.SyncPipe
	io      IO
	watch   Watcher
	release func() // frees the engine's inherited fds before the exit files
	signals <-chan os.Signal
	reaper  *oci.Reaper
	st      machine
	ctr     int
	started time.Time // the container's pid became known (exit.json)
}

// Parts are the monitor's collaborators. Watch, Release and Signals may be
// nil; without Signals, SIGTERM, SIGINT and SIGQUIT of this process are
// forwarded.
type Parts struct {
	Log     Logger
	Sync    *oci.SyncPipe
	IO      IO
	Watch   Watcher
	Release func()
	Signals <-chan os.Signal
}

// New makes a monitor in state Creating.
func New(cfg Config, p Parts) *Monitor {
	m := &Monitor{cfg: cfg, log: p.Log, sync: p.Sync, io: p.IO, watch: p.Watch,
		release: p.Release, signals: p.Signals}
	if m.watch == nil {
		m.watch = nopWatcher{}
	}
	if m.release == nil {
		m.release = func() {}
	}
	return m
}

// State is the monitor's phase now.
func (m *Monitor) State() State { return m.st.current() }

// Exiting reports that the container is gone (attach's drain bound).
func (m *Monitor) Exiting() bool { return m.st.current() >= Exiting }

// Run starts the reaper, runs the runtime (unless setup already failed:
// pass a SetupFailed outcome as setupErr's result), waits for the container
// and runs the exit sequence. It returns the outcome and the monitor's own
// exit status (§11.6).
func (m *Monitor) Run(rt Runtime, setupErr error) (Outcome, int) {
	m.reaper = oci.StartReaper()
	stop := m.forwardSignals()
	defer stop()
	var out Outcome
	if setupErr != nil {
		m.log.Errorf("%v", setupErr)
		out = Outcome{Kind: SetupFailed, Err: setupErr}
	} else {
		out = m.create(rt)
		if out.Kind == 0 {
			out = m.wait()
		}
	}
	return out, m.finish(out, time.Now())
}

// forwardSignals passes SIGTERM, SIGINT and SIGQUIT to whoever the state
// says (§3.2) until the returned stop is called.
func (m *Monitor) forwardSignals() (stop func()) {
	ch := m.signals
	var own chan os.Signal
	if ch == nil {
		own = make(chan os.Signal, 4)
		signal.Notify(own, unix.SIGTERM, unix.SIGINT, unix.SIGQUIT)
		ch = own
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				sig, ok := s.(unix.Signal)
				if target := m.st.signalTarget(); ok && target > 0 {
					if err := unix.Kill(target, sig); err != nil {
						m.reaper.Kick()
					}
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		if own != nil {
			signal.Stop(own)
		}
		close(done)
	}
}

type nopWatcher struct{}

func (nopWatcher) Running(int)             {}
func (nopWatcher) Final()                  {}
func (nopWatcher) Exited(int)              {}
func (nopWatcher) Record(*exitcode.Record) {}
func (nopWatcher) Close()                  {}
