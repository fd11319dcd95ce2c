package main

import (
	"github.com/shim-project/shim/attach"
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
	if m.io.out != nil {
		m.io.pumps = append(m.io.pumps, startPump(m.io.out, logs.Stdout, m.io.console != nil, m.sink))
	}
	if m.io.errp != nil {
		m.io.pumps = append(m.io.pumps, startPump(m.io.errp, logs.Stderr, false, m.sink))
	}
}

// sink is the data path: every chunk goes to the log drivers first, then to
// every attach client (§8.2). The lock keeps stdout and stderr entries whole
// and in the order they were read.
func (m *mon) sink(stream logs.Stream, p []byte) {
	id := attachStdout
	if stream == logs.Stderr {
		id = attachStderr
	}
	m.outMu.Lock()
	if err := m.setup.logs.Write(stream, p); err != nil && m.logErr == nil {
		m.lg.Warnf("write log: %v", err)
		m.logErr = err
	} else if err == nil {
		m.logErr = nil
	}
	if m.srv != nil {
		m.srv.AcceptPending()
		m.srv.Broadcast(id, p)
	}
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
