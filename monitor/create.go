package monitor

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/oci"
)

// create spawns the runtime, waits for it to create the container and
// reports the container pid to the engine. A zero Kind means the container
// now runs; otherwise the outcome says how creation failed, and the engine
// has been told (§5.2).
func (m *Monitor) create(rt Runtime) Outcome {
	pid, err := rt.Spawn()
	if err != nil {
		m.log.Errorf("%v", err)
		return m.createFailed(err.Error(), err)
	}
	if err := m.st.spawned(pid); err != nil {
		return m.createFailed(err.Error(), err)
	}
	ws := <-m.reaper.Wait(pid)
	if !m.cfg.Exec && !(ws.Exited() && ws.ExitStatus() == 0) {
		msg := m.io.RuntimeStderr()
		if msg != "" {
			m.log.Warnf("runtime stderr: %s", msg) // §12.3: only syslog shows it
		}
		m.log.Errorf("Failed to create container: %s", describeWait(ws))
		return m.createFailed(msg, fmt.Errorf("runtime: %s", describeWait(ws)))
	}
	ctr, err := oci.ReadPidFile(m.cfg.PidFile)
	if err != nil || ctr <= 0 {
		msg := m.io.RuntimeStderr()
		if msg == "" && err != nil {
			msg = err.Error()
		}
		m.log.Errorf("Failed to read pidfile: %v", err)
		if err == nil {
			err = fmt.Errorf("pidfile %s: pid %d", m.cfg.PidFile, ctr)
		}
		return m.createFailed(msg, err)
	}
	if m.io.HasConsole() {
		if err := m.io.ReceiveConsole(consoleTimeout); err != nil {
			m.log.Errorf("%v", err)
			return m.createFailed("Runtime did not set up terminal", err)
		}
	}
	m.io.StartOutput()
	if m.cfg.ReportPid {
		if err := m.sync.Send(ctr, ""); err != nil {
			m.log.Errorf("%v", err)
		}
	}
	if err := m.st.created(ctr); err != nil {
		return m.createFailed(err.Error(), err)
	}
	m.ctr = ctr
	return Outcome{}
}

// createFailed tells the engine that creation failed: {"data": -1,
// "message": msg} (§5.2).
func (m *Monitor) createFailed(msg string, err error) Outcome {
	m.sendFailure(msg)
	return Outcome{Kind: CreateFailed, Err: err, Message: msg}
}

func (m *Monitor) sendFailure(msg string) {
	if err := m.sync.Send(-1, msg); err != nil {
		m.log.Errorf("%v", err)
	}
}

// describeWait renders a wait status the way conmon's messages do.
func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("signal %d", ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
