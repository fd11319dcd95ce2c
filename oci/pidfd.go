package oci

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Pidfd is a handle on one process that pid reuse cannot fool: once the
// process is gone its number may name another process, the pidfd never does.
type Pidfd struct {
	fd   int
	f    *os.File
	gone chan struct{}
}

// OpenPidfd opens a pidfd for pid. ESRCH means the process no longer
// exists (or has been reaped); ENOSYS or EPERM mean pidfds are unavailable
// here (kernel < 5.3, a seccomp filter) and the caller must fall back.
func OpenPidfd(pid int) (*Pidfd, error) {
	// PIDFD_NONBLOCK makes the fd non-blocking, so that os.NewFile hands it
	// to the runtime poller and waiting costs no thread.
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.PidfdOpen(pid, 0) // kernels 5.3-5.9 lack the flag
	}
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	p := &Pidfd{fd: fd, f: os.NewFile(uintptr(fd), "pidfd"), gone: make(chan struct{})}
	go p.wait()
	return p, nil
}

// wait closes p.gone once the process has exited: a pidfd polls readable
// then (zombie or reaped alike).
func (p *Pidfd) wait() {
	rc, err := p.f.SyscallConn()
	if err == nil {
		err = rc.Read(func(fd uintptr) bool { return exited(int(fd), 0) })
		if err == nil {
			close(p.gone)
			return
		}
		if errors.Is(err, os.ErrClosed) {
			return
		}
	}
	// Not pollable through the runtime (old kernel): block a thread in poll.
	if exited(p.fd, -1) {
		close(p.gone)
	}
}

// exited polls fd for readability, waiting up to timeout ms (-1: forever).
func exited(fd, timeout int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, timeout)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0
	}
}

// Gone is closed once the process has exited.
func (p *Pidfd) Gone() <-chan struct{} { return p.gone }

// IsChild reports whether the process is an unreaped child of ours, by
// peeking with waitid(P_PIDFD, WNOWAIT): it neither reaps the child nor
// takes its status from the Reaper.
func (p *Pidfd) IsChild() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PIDFD, p.fd, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		return err == nil
	}
}

// Close releases the pidfd; the waiting goroutine ends with it (in the
// old-kernel fallback it ends when the process does).
func (p *Pidfd) Close() { p.f.Close() }
