package main

import (
	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/cio"
	"github.com/shim-project/shim/logs"
)

// Stream ids on the attach socket (§8.2).
const (
	attachStdout byte = 2
	attachStderr byte = 3
)

// startAttach creates the attach socket and the ctl/winsz FIFOs in the
// bundle; they must exist before the runtime runs (podman connects before
// `runtime start`).
func (m *mon) startAttach() error {
	c := m.cfg
	opts := attach.Options{
		Bundle: c.Bundle, FullAttach: c.FullAttach, SocketDir: c.SocketDirPath, Cuuid: c.Cuuid,
		Stdin: c.Stdin, Terminal: c.Terminal, LeaveStdinOpen: c.LeaveStdinOpen,
		CloseStdin: m.io.closeStdin, Logger: m.lg,
		// Once the container is gone, a client that takes nothing may hold
		// the final drain for the flush bound only (§11.1 latency).
		Exiting: func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.phase == phaseExiting
		},
	}
	if m.io.stdin != nil {
		opts.Input = m.io.stdin
	}
	srv, err := attach.Listen(opts)
	if err != nil {
		return err
	}
	m.srv = srv
	m.fifos, err = attach.OpenFIFOs(attach.FIFOOptions{
		Bundle: c.Bundle, Terminal: c.Terminal, Reopen: m.reopenLogs, Logger: m.lg,
	})
	return err
}

// startPumps begins copying container output once the runtime is done.
func (m *mon) startPumps() {
	if t := m.io.term; t != nil {
		if m.srv != nil {
			m.srv.SetInput(t.File())
		}
		if m.fifos != nil {
			m.fifos.ServeWinsz(m.stats.CountResizes(t.Resize))
		}
	}
	if err := m.io.startOutput(m.sink); err != nil {
		m.lg.Errorf("%v", err)
	}
}

// sink is the data path: every chunk goes to the log drivers first, then to
// every attach client (§8.2). The lock keeps stdout and stderr entries whole
// and in the order they were read.
func (m *mon) sink(stream logs.Stream, p []byte) {
	id, i := attachStdout, 0
	if stream == logs.Stderr {
		id, i = attachStderr, 1
	}
	m.outMu.Lock()
	// The writer reports a driver's failure once, when it starts (a full
	// disk must not produce a warning per line).
	if err := m.setup.logs.Write(stream, p); err != nil {
		m.lg.Warnf("write log: %v", err)
	}
	if m.srv != nil {
		// A client that connected before this output was written must get
		// it, even if the scheduler has not run the accept loop yet (podman
		// connects, then starts the container). Output that follows a read
		// which emptied the pipe may be the first after such a connect;
		// while the container writes faster than we read, every read
		// fills the buffer and skips this: accept4 on an empty backlog
		// costs a socket allocation in the kernel, a few microseconds.
		if !m.fullRead[i] {
			m.srv.AcceptPending()
		}
		m.srv.Broadcast(id, p)
	}
	m.fullRead[i] = len(p) == cio.ReadSize
	m.outMu.Unlock()
}

// reopenLogs serves ctl type 2 (§10.5): kubelet and CRI-O rename the log
// away and expect the file back at once.
func (m *mon) reopenLogs() {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	if err := m.setup.logs.Reopen(); err != nil {
		m.lg.Warnf("Failed to reopen log file: %v", err)
	}
}
