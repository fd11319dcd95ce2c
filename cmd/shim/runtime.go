package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/strerror"
	"github.com/shim-project/shim/oci"
)

// openPipes takes the engine's result channels (§4): the sync pipe, and the
// attach pipe that --exec-attach requires. It notes every _OCI_* fd, which
// must not reach the runtime.
func (m *mon) openPipes() error {
	key := oci.KeyFor(m.cfg.APIVersion, m.cfg.Exec)
	var err error
	if m.sync, err = openSyncEnv("_OCI_SYNCPIPE", key); err != nil {
		return err
	}
	startFd := envFd("_OCI_STARTPIPE")
	m.engineFds = []int{m.sync.Fd(), startFd, envFd("_OCI_ATTACHPIPE")}
	if !m.cfg.ExecAttach {
		// The first go byte was read before the fork; only --exec-attach
		// needs the pipe again (§5.3).
		if startFd > 0 {
			m.closeInheritedFd(startFd)
		}
		return nil
	}
	if _, ok := os.LookupEnv("_OCI_ATTACHPIPE"); !ok {
		return fmt.Errorf("--attach specified but _OCI_ATTACHPIPE was not %s", strerror.Text(unix.ENOENT))
	}
	if m.attachPipe, err = openSyncEnv("_OCI_ATTACHPIPE", key); err != nil {
		return err
	}
	m.startFd = startFd
	return nil
}

// envFd is the fd an _OCI_* variable names, 0 when it is unset or invalid
// (openSyncEnv and the first process report invalid values).
func envFd(name string) int {
	v, ok := os.LookupEnv(name)
	if !ok {
		return 0
	}
	fd, err := oci.ParseFdEnv(name, v)
	if err != nil || fd < 0 {
		return 0
	}
	return fd
}

func openSyncEnv(name, key string) (*oci.SyncPipe, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return oci.NewSyncPipe(nil, key), nil
	}
	fd, err := oci.ParseFdEnv(name, v)
	if err != nil {
		return nil, err
	}
	if fd <= 0 {
		return oci.NewSyncPipe(nil, key), nil
	}
	if err := oci.SetCloexec(name, fd); err != nil {
		return nil, err
	}
	return oci.NewSyncPipe(os.NewFile(uintptr(fd), name), key), nil
}

// protectInherited marks every inherited fd close-on-exec so that children
// get exactly the fds we list for them, at the numbers we choose.
func (m *mon) protectInherited() {
	for _, fd := range m.inherited {
		unix.CloseOnExec(fd)
	}
}

// childFiles lays out the runtime's fds: its stdio, then every inherited fd
// at its own number (runc --preserve-fds counts on that), minus ours.
func (m *mon) childFiles() []int {
	files := []int{m.io.child[0], m.io.child[1], m.io.child[2]}
	for _, fd := range m.inherited {
		for len(files) <= fd {
			files = append(files, -1)
		}
		if fd != m.startFd && slices.Contains(m.engineFds, fd) {
			continue
		}
		files[fd] = fd
	}
	return files
}

func (m *mon) runtimeArgv() []string {
	c := m.cfg
	o := oci.Opts{
		Runtime: c.Runtime, SystemdCgroup: c.SystemdCgroup, RuntimeArgs: c.RuntimeArgs,
		Bundle: c.Bundle, PidFile: c.ContainerPidfile, NoPivot: c.NoPivot,
		NoNewKeyring: c.NoNewKeyring, RuntimeOpts: c.RuntimeOpts, Cid: c.Cid,
		RestorePath: c.Restore, ExecProcessSpec: c.ExecProcessSpec,
	}
	if m.io.console != nil {
		o.ConsoleSocket = m.io.console.Path()
	}
	switch {
	case c.Exec:
		return oci.ExecArgs(o)
	case c.RestoreSet:
		return oci.RestoreArgs(o)
	}
	return oci.CreateArgs(o)
}

// startRuntime spawns `runtime create|restore|exec` through the launcher.
func (m *mon) startRuntime() (int, error) {
	argv := m.runtimeArgv()
	m.lg.Tracef("calling runtime args: %v", argv)
	if m.cfg.Exec {
		// A stale pidfile would make a failed exec look like a success.
		_ = os.Remove(m.cfg.ContainerPidfile)
	}
	pid, err := oci.Start(oci.Launch{
		Path: m.cfg.Runtime, Argv: argv, Env: os.Environ(), Files: m.childFiles(),
		FixStdioMode: !m.setup.passthrough, ReplaceListenPid: m.cfg.ReplaceListenPid,
		StartFd: m.startFd, OOMScoreAdj: m.oldAdj, ExecFailStatus: 127,
	})
	m.io.closeChildEnds()
	if m.setup.passthrough {
		detachStdio()
		m.lg.SetStderr(discard{})
	}
	if m.startFd > 0 {
		m.closeInheritedFd(m.startFd)
	}
	return pid, err
}

// awaitRuntime waits for the runtime to finish creating the container and
// reports the container pid to the engine. ok is false when it failed; res
// then says how to end.
func (m *mon) awaitRuntime(pid int) (ctr int, res result, ok bool) {
	ws := <-m.reaper.Wait(pid)
	fail := func(msg string) (int, result, bool) {
		m.sendFailure(msg)
		return 0, result{daemon: 1, exitCmd: true}, false
	}
	if !m.cfg.Exec && !(ws.Exited() && ws.ExitStatus() == 0) {
		msg := m.io.runtimeStderr()
		if msg != "" {
			m.lg.Warnf("runtime stderr: %s", msg) // §12.3: only syslog shows it
		}
		m.lg.Errorf("Failed to create container: %s", describeWait(ws))
		return fail(msg)
	}
	ctr, err := oci.ReadPidFile(m.cfg.ContainerPidfile)
	if err != nil || ctr <= 0 {
		msg := m.io.runtimeStderr()
		if msg == "" && err != nil {
			msg = err.Error()
		}
		m.lg.Errorf("Failed to read pidfile: %v", err)
		return fail(msg)
	}
	if m.io.console != nil {
		if err := m.io.receiveConsole(2 * time.Second); err != nil {
			m.lg.Errorf("%v", err)
			return fail("Runtime did not set up terminal")
		}
	}
	m.startPumps()
	if m.cfg.APIVersion || !m.cfg.Exec {
		if err := m.sync.Send(ctr, ""); err != nil {
			m.lg.Errorf("%v", err)
		}
	}
	return ctr, result{}, true
}

// describeWait renders a wait status the way conmon's messages do.
func describeWait(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("signal %d", ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}
