package monitor

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/oci"
)

// finish runs the exit sequence of §11.1 and returns the daemon's status;
// the end was seen at finished.
func (m *Monitor) finish(out Outcome, finished time.Time) int {
	if err := m.st.move(Exiting); err != nil {
		m.log.Errorf("%v", err)
	}
	// §11.1 step 1: the kill raced with the watcher; look once more, so
	// that the oom files exist before the exit files.
	m.watch.Final()
	// Drain what the container left in its pipes, unless it timed out.
	m.io.StopOutput(out.Kind != TimedOut, !m.cfg.NoSyncLogs)
	if out.Kind == TimedOut {
		killGroup(m.ctr)
	}
	m.release()
	m.io.CloseAttach()
	status := 1
	// exit.json goes first (§16.3): who reacts to the exit files finds it.
	rec := out.record(m.started, finished)
	m.watch.Record(&rec)
	if err := m.cfg.ExitFiles.WriteRecord(rec); err != nil {
		m.log.Warnf("%v", err)
	}
	if out.Ran() {
		m.watch.Exited(out.Status)
		if err := m.cfg.ExitFiles.Write(out.Status); err != nil {
			m.log.Errorf("%v", err)
		} else {
			status = exitcode.DaemonStatus(out.Status)
		}
		if m.cfg.Exec {
			msg := ""
			if out.Kind == TimedOut {
				msg = "command timed out"
			}
			if err := m.sync.Send(out.Status, msg); err != nil {
				m.log.Errorf("%v", err)
			}
		}
	}
	m.io.Unlink()
	if out.runsExitCommand() && m.cfg.ExitCommand != nil {
		if st := m.runExitCommand(); st != 0 {
			status = st
		}
	}
	m.io.RemoveSymlink()
	m.watch.Close()
	m.reaper.Stop()
	if err := m.st.move(Done); err != nil {
		m.log.Errorf("%v", err)
	}
	return status
}

// killGroup ends a timed-out container: its process group, or the pid alone
// when the group is ours or init's (§11.5). We do not wait for it.
func killGroup(ctr int) {
	pgid, err := unix.Getpgid(ctr)
	if err == nil && pgid > 1 {
		_ = unix.Kill(-pgid, unix.SIGKILL)
		return
	}
	_ = unix.Kill(ctr, unix.SIGKILL)
}

// runExitCommand runs the exit command with its exact argv after the exit
// delay and waits for it (§11.4); it returns the command's non-zero status.
// The reaper stops first: from here on this is the only child we wait for,
// and the subreaper flag goes so that the command's own children are not
// ours.
func (m *Monitor) runExitCommand() int {
	m.reaper.Stop()
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	cmd := m.cfg.ExitCommand
	null := -1
	if f, err := os.OpenFile("/dev/null", os.O_RDWR, 0); err == nil {
		defer f.Close()
		null = int(f.Fd())
	}
	pid, err := oci.Start(oci.Launch{
		Path: cmd.Path, Argv: cmd.Argv(), Env: os.Environ(), Files: []int{null, null, null},
		OOMScoreAdj: m.cfg.OOMScoreAdj, Delay: m.cfg.ExitDelay,
		ExecFailStatus: 1, NoPdeathsig: true,
	})
	if err != nil {
		m.log.Errorf("Failed to run exit command: %v", err)
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
