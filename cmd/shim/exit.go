package main

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio"
	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/oci"
	"github.com/shim-project/shim/oom"
)

// result says how the monitor ends.
type result struct {
	ran      bool // the container ran: drain, record status, exit files
	status   int  // container status (§11.2) when ran
	timedOut bool
	daemon   int  // exit status when !ran
	exitCmd  bool // run the exit command even though !ran
}

// watch forwards I/O until the container pid exits or --timeout expires.
func (m *mon) watch(ctr int) result {
	m.mu.Lock()
	m.ctrPid = ctr
	m.phase = phaseRunning
	m.mu.Unlock()
	if m.cfg.PersistDir != "" || m.cfg.Bundle != "" {
		// Nowhere to record an OOM (legacy exec, CRI-O ExecSync): no watch.
		m.oom = oom.Start(ctr, m.lg, m.cfg.PersistDir, m.cfg.Bundle)
	}
	m.stats.Started(m.oom)

	exited := m.reaper.Wait(ctr)
	track := trackExit(ctr)
	defer track.close()
	gone := track.gone
	timeout := m.timeoutC()
	for {
		select {
		case ws := <-exited:
			return result{ran: true, status: exitcode.Status(ws)}
		case <-timeout:
			m.reaper.Forget(ctr)
			return result{ran: true, status: -1, timedOut: true}
		case <-gone:
			if track.isChild() {
				gone = nil // a zombie of ours: the reaper collects its status
				continue
			}
			// Not our descendant (§3.3): its status is unknowable and
			// counts as 0, unless the reaper just collected it after all.
			select {
			case ws := <-exited:
				return result{ran: true, status: exitcode.Status(ws)}
			case <-time.After(reapGrace):
				m.reaper.Forget(ctr)
				return result{ran: true, status: 0}
			}
		}
	}
}

// finish runs the exit sequence of §11.1 and returns the daemon's status.
func (m *mon) finish(res result) int {
	m.mu.Lock()
	m.phase = phaseExiting
	m.mu.Unlock()
	// §11.1 step 1: the kill raced with the watcher; look once more, so
	// that the oom files exist before the exit files.
	m.oom.Final()
	m.stopIO(res)
	if res.timedOut {
		m.killGroup()
	}
	m.closeInherited()
	if m.srv != nil {
		m.srv.Close()
	}
	status := res.daemon
	if res.ran {
		m.stats.Exited(res.status)
		files := exitcode.Files{PersistDir: m.cfg.PersistDir, ExitDir: m.cfg.ExitDir, Cid: m.cfg.Cid}
		if err := files.Write(res.status); err != nil {
			m.lg.Errorf("%v", err)
			status = 1
		} else {
			status = exitcode.DaemonStatus(res.status)
		}
		if m.cfg.Exec {
			msg := ""
			if res.timedOut {
				msg = "command timed out"
			}
			if err := m.sync.Send(res.status, msg); err != nil {
				m.lg.Errorf("%v", err)
			}
		}
	}
	if m.srv != nil {
		m.srv.Unlink()
	}
	if res.ran || res.exitCmd {
		if st := m.runExitCommand(); st != 0 {
			status = st
		}
	}
	if m.srv != nil {
		m.srv.RemoveSymlink()
	}
	m.stats.Close()
	m.reaper.Stop()
	return status
}

// stopIO drains the container's output (unless it timed out), then flushes
// and syncs the logs.
func (m *mon) stopIO(res result) {
	if m.io == nil {
		m.closeLogs()
		return
	}
	if o := m.io.output; o != nil {
		if res.timedOut {
			o.Halt()
		} else {
			o.Drain(cio.DrainLimit)
		}
		_ = o.Close()
	}
	m.closeLogs()
	if m.fifos != nil {
		m.fifos.Close()
	}
}

func (m *mon) closeLogs() {
	m.outMu.Lock()
	defer m.outMu.Unlock()
	if err := m.setup.logs.Close(!m.cfg.NoSyncLog); err != nil {
		m.lg.Warnf("close logs: %v", err)
	}
}

// killGroup ends a timed-out container: its process group, or the pid alone
// when the group is ours or init's (§11.5). We do not wait for it.
func (m *mon) killGroup() {
	pgid, err := unix.Getpgid(m.ctrPid)
	if err == nil && pgid > 1 {
		_ = unix.Kill(-pgid, unix.SIGKILL)
		return
	}
	_ = unix.Kill(m.ctrPid, unix.SIGKILL)
}

// closeInherited frees what the engine handed us (reserved ports, slirp's
// exit fd) before the exit files appear: podman's restart relies on it.
func (m *mon) closeInherited() {
	for _, fd := range m.inherited {
		if fd == m.sync.Fd() {
			continue
		}
		if m.attachPipe != nil && fd == m.attachPipe.Fd() {
			m.attachPipe.Close() // it may have closed itself on EPIPE
			continue
		}
		unix.Close(fd)
	}
	m.inherited = nil
}

// closeInheritedFd closes one inherited fd early and forgets it, so that the
// final sweep cannot close a later file that reused the number.
func (m *mon) closeInheritedFd(fd int) {
	for i, v := range m.inherited {
		if v == fd {
			m.inherited = append(m.inherited[:i], m.inherited[i+1:]...)
			unix.Close(fd)
			return
		}
	}
}

// runExitCommand runs --exit-command with its exact argv after
// --exit-delay and waits for it (§11.4). It returns its non-zero status.
func (m *mon) runExitCommand() int {
	if m.cfg.ExitCommand == "" {
		return 0
	}
	m.reaper.Stop()
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	cmd := exitcode.Command{Path: m.cfg.ExitCommand, Args: m.cfg.ExitCommandArgs}
	null := -1
	if f, err := os.OpenFile("/dev/null", os.O_RDWR, 0); err == nil {
		defer f.Close()
		null = int(f.Fd())
	}
	pid, err := oci.Start(oci.Launch{
		Path: cmd.Path, Argv: cmd.Argv(), Env: os.Environ(), Files: []int{null, null, null},
		OOMScoreAdj: m.oldAdj, Delay: time.Duration(m.cfg.ExitDelay) * time.Second,
		ExecFailStatus: 1, NoPdeathsig: true,
	})
	if err != nil {
		m.lg.Errorf("Failed to run exit command: %v", err)
		return 1
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	// Reap what else is left so no zombie outlives us.
	for {
		var other unix.WaitStatus
		if p, err := unix.Wait4(-1, &other, unix.WNOHANG, nil); p <= 0 || err != nil {
			break
		}
	}
	return exitcode.Status(ws)
}
