package cabi

import "syscall"

// SelfExe re-executes the running binary. Not os.Executable(): that path may
// meanwhile name a newer binary (make install while containers run).
const SelfExe = "/proc/self/exe"

// Reexec starts this binary again and returns the child's pid. The child's
// fd i is files[i] of this process; -1 leaves that number closed. dir ""
// keeps the working directory.
func Reexec(argv, env []string, files []int, dir string, sys *syscall.SysProcAttr) (int, error) {
	fds := make([]uintptr, len(files))
	for i, fd := range files {
		fds[i] = uintptr(fd) // -1 becomes ^0, which ForkExec leaves closed
	}
	return syscall.ForkExec(SelfExe, argv, &syscall.ProcAttr{Dir: dir, Env: env, Files: fds, Sys: sys})
}
