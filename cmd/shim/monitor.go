package main

import (
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/cli"
	"github.com/shim-project/shim/internal/diag"
	"github.com/shim-project/shim/metrics"
	"github.com/shim-project/shim/notify"
	"github.com/shim-project/shim/oci"
	"github.com/shim-project/shim/oom"
)

// phase is where the monitor is in the container's life. Signals and ctl
// messages behave differently per phase; keeping it explicit avoids flags.
type phase int

const (
	phaseCreating phase = iota // runtime running, container pid unknown
	phaseRunning               // container pid known, forwarding I/O
	phaseExiting               // container gone: drain, exit files, exit command
)

// mon is the daemon's state for one container or exec session.
type mon struct {
	cfg       *cli.Config
	lg        *diag.Logger
	setup     *setup
	inherited []int
	oldAdj    string

	sync       *oci.SyncPipe
	attachPipe *oci.SyncPipe
	startFd    int   // kept only with --exec-attach, for the runtime's second go byte
	engineFds  []int // the _OCI_* fds: never handed to the runtime

	reaper *oci.Reaper
	io     *stdio
	srv    *attach.Server
	fifos  *attach.FIFOs
	oom    *oom.Watcher  // nil until the container pid is known, or if unwatchable
	notify *notify.Relay // --sdnotify-socket

	stats *metrics.Container // SHIM_METRICS (metrics.go); nil, and every hook a no-op, when off

	outMu    sync.Mutex // one writer at a time into logs and attach clients
	fullRead [2]bool    // stdout, stderr: the last chunk filled the read buffer

	mu         sync.Mutex // guards phase, runtimePid and ctrPid
	phase      phase
	runtimePid int
	ctrPid     int
}

// monitor runs the daemon part and returns the process exit status.
func monitor(cfg *cli.Config, st *setup, lg *diag.Logger, inherited []int, oldAdj string) int {
	m := &mon{cfg: cfg, lg: lg, setup: st, inherited: inherited, oldAdj: oldAdj}
	if cfg.SdnotifySocket != "" {
		// Right after the fork, as conmon: podman passes MAINPID=<our pid>
		// to systemd, so the relay must be this process (§12.1).
		var err error
		if m.notify, err = notify.Start(cfg.Bundle, cfg.SdnotifySocket, lg); err != nil {
			lg.Errorf("%v", err)
			return 1
		}
	}
	if err := m.openPipes(); err != nil {
		lg.Errorf("%v", err)
		return 1
	}
	m.protectInherited()
	if !st.passthrough {
		detachStdio()
		lg.SetStderr(discard{})
	}
	_, _ = unix.Setsid() // fails harmlessly with --sync (engines use Setpgid)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		// Only debug, like oom_score_adj: nothing here may need privileges
		// (rootless podman), and an init that is not our child is still
		// waited for (§3.3).
		lg.Debugf("Failed to set as subreaper: %v", err)
	}
	m.reaper = oci.StartReaper()
	status := m.run()
	return m.finish(status)
}

// run creates the container and waits for it; it returns the status to
// record, or an error status (with exitFiles false) when creation failed.
func (m *mon) run() result {
	var err error
	m.io, err = newStdio(m.cfg, m.setup.passthrough)
	if err != nil {
		m.lg.Errorf("%v", err)
		return result{daemon: 1}
	}
	if m.cfg.Bundle != "" && !m.setup.passthrough {
		if err := m.startAttach(); err != nil {
			m.lg.Errorf("%v", err)
			return result{daemon: 1}
		}
	}
	m.startMetrics()
	if m.attachPipe != nil {
		if err := m.attachPipe.Send(0, ""); err != nil {
			m.lg.Errorf("%v", err)
		}
	}
	m.forwardSignals()
	pid, err := m.startRuntime()
	if err != nil {
		m.lg.Errorf("%v", err)
		m.sendFailure(err.Error())
		return result{daemon: 1, exitCmd: true}
	}
	m.setRuntimePid(pid)
	ctr, res, ok := m.awaitRuntime(pid)
	if !ok {
		return res
	}
	return m.watch(ctr)
}

func (m *mon) setRuntimePid(pid int) {
	m.mu.Lock()
	m.runtimePid = pid
	m.mu.Unlock()
}

// forwardSignals passes SIGTERM, SIGINT and SIGQUIT to the container, or to
// the runtime while the container pid is not known yet (§3.2).
func (m *mon) forwardSignals() {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGQUIT)
	go func() {
		for s := range ch {
			m.mu.Lock()
			var target int
			switch m.phase {
			case phaseCreating:
				target = m.runtimePid
			case phaseRunning:
				target = m.ctrPid
			}
			m.mu.Unlock()
			if target > 0 {
				if err := unix.Kill(target, s.(unix.Signal)); err != nil {
					m.reaper.Kick()
				}
			}
		}
	}()
}

// detachStdio points fds 0-2 at /dev/null: engines Wait() on our stdout and
// stderr pipes until every copy is closed (§3.1 step 6).
func detachStdio() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		_ = unix.Dup2(null, fd)
	}
	if null > 2 {
		unix.Close(null)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// timeoutC returns a channel that fires after --timeout seconds, or nil.
func (m *mon) timeoutC() <-chan time.Time {
	if m.cfg.Timeout <= 0 {
		return nil
	}
	return time.After(time.Duration(m.cfg.Timeout) * time.Second)
}

func (m *mon) sendFailure(msg string) {
	if err := m.sync.Send(-1, msg); err != nil {
		m.lg.Errorf("%v", err)
	}
}
