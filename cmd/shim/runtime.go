package main

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cli"
	"github.com/shim-project/shim/internal/strerror"
	"github.com/shim-project/shim/oci"
)

// engineFds are the fds the engine handed us (§4): the sync pipe, the
// attach pipe that --exec-attach requires, the start pipe, and every other
// inherited fd, which the runtime gets at its own number.
type engineFds struct {
	inherited  []int
	sync       *oci.SyncPipe
	attachPipe *oci.SyncPipe
	startFd    int   // kept only with --exec-attach, for the runtime's second go byte
	ours       []int // the _OCI_* fds: never handed to the runtime
}

// openEngineFds takes the engine's result channels and marks every
// inherited fd close-on-exec, so that children get exactly the fds we list
// for them, at the numbers we choose.
func openEngineFds(cfg *cli.Config, inherited []int) (*engineFds, error) {
	f := &engineFds{inherited: inherited}
	key := oci.KeyFor(cfg.APIVersion, cfg.Exec)
	var err error
	if f.sync, err = openSyncEnv("_OCI_SYNCPIPE", key); err != nil {
		return nil, err
	}
	startFd := envFd("_OCI_STARTPIPE")
	f.ours = []int{f.sync.Fd(), startFd, envFd("_OCI_ATTACHPIPE")}
	for _, fd := range inherited {
		unix.CloseOnExec(fd)
	}
	if !cfg.ExecAttach {
		// The first go byte was read before the fork; only --exec-attach
		// needs the pipe again (§5.3).
		if startFd > 0 {
			f.closeInheritedFd(startFd)
		}
		return f, nil
	}
	if _, ok := os.LookupEnv("_OCI_ATTACHPIPE"); !ok {
		return nil, fmt.Errorf("--attach specified but _OCI_ATTACHPIPE was not %s", strerror.Text(unix.ENOENT))
	}
	if f.attachPipe, err = openSyncEnv("_OCI_ATTACHPIPE", key); err != nil {
		return nil, err
	}
	f.startFd = startFd
	return f, nil
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

// childFiles lays out the runtime's fds: its stdio, then every inherited fd
// at its own number (runc --preserve-fds counts on that), minus ours.
func (f *engineFds) childFiles(stdio [3]int) []int {
	n := len(stdio)
	for _, fd := range f.inherited {
		n = max(n, fd+1)
	}
	files := make([]int, n) // one exact allocation: this runs once per monitor
	copy(files, stdio[:])
	for i := len(stdio); i < n; i++ {
		files[i] = -1
	}
	for _, fd := range f.inherited {
		if fd != f.startFd && slices.Contains(f.ours, fd) {
			continue
		}
		files[fd] = fd
	}
	return files
}

// closeInherited frees what the engine handed us (reserved ports, slirp's
// exit fd) before the exit files appear: podman's restart relies on it.
func (f *engineFds) closeInherited() {
	for _, fd := range f.inherited {
		if fd == f.sync.Fd() {
			continue
		}
		if f.attachPipe != nil && fd == f.attachPipe.Fd() {
			f.attachPipe.Close() // it may have closed itself on EPIPE
			continue
		}
		unix.Close(fd)
	}
	f.inherited = nil
}

// closeInheritedFd closes one inherited fd early and forgets it, so that the
// final sweep cannot close a later file that reused the number.
func (f *engineFds) closeInheritedFd(fd int) {
	for i, v := range f.inherited {
		if v == fd {
			f.inherited = append(f.inherited[:i], f.inherited[i+1:]...)
			unix.Close(fd)
			return
		}
	}
}

// runtimeCmd spawns `runtime create|restore|exec` through the launcher
// (monitor.Runtime).
type runtimeCmd struct {
	d      *daemon
	oldAdj string
}

func (r *runtimeCmd) argv() []string {
	c := r.d.cfg
	o := oci.Opts{
		Runtime: c.Runtime, SystemdCgroup: c.SystemdCgroup, RuntimeArgs: c.RuntimeArgs,
		Bundle: c.Bundle, PidFile: c.ContainerPidfile, NoPivot: c.NoPivot,
		NoNewKeyring: c.NoNewKeyring, RuntimeOpts: c.RuntimeOpts, Cid: c.Cid,
		RestorePath: c.Restore, ExecProcessSpec: c.ExecProcessSpec,
		ConsoleSocket: r.d.io.ConsolePath(),
	}
	switch {
	case c.Exec:
		return oci.ExecArgs(o)
	case c.RestoreSet:
		return oci.RestoreArgs(o)
	}
	return oci.CreateArgs(o)
}

func (r *runtimeCmd) Spawn() (int, error) {
	d := r.d
	argv := r.argv()
	d.lg.Tracef("calling runtime args: %v", argv)
	if d.cfg.Exec {
		// A stale pidfile would make a failed exec look like a success.
		_ = os.Remove(d.cfg.ContainerPidfile)
	}
	pid, err := oci.Start(oci.Launch{
		Path: d.cfg.Runtime, Argv: argv, Env: os.Environ(), Files: d.fds.childFiles(d.io.ChildFds()),
		FixStdioMode: !d.setup.passthrough, ReplaceListenPid: d.cfg.ReplaceListenPid,
		StartFd: d.fds.startFd, OOMScoreAdj: r.oldAdj, ExecFailStatus: 127,
	})
	d.io.CloseChildEnds()
	if d.setup.passthrough {
		detachStdio()
		d.lg.SetStderr(discard{})
	}
	if d.fds.startFd > 0 {
		d.fds.closeInheritedFd(d.fds.startFd)
	}
	return pid, err
}
