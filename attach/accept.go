package attach

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// Accepting: the watcher accepts when the listener is readable, and the
// data path calls AcceptPending before output that follows a wait. Both
// work on the listener's raw fd under acceptMu, which Close takes to close
// it, so neither can accept from a later file that reused the number.

// AcceptPending takes every connection already waiting in the backlog,
// without blocking. The watcher would take them too, but only when the
// scheduler gets to it: output read before then would miss a client that
// connected before the container started (podman connects, then runs
// `runtime start` or sends the exec's second go byte), so the data path
// calls this before each broadcast.
func (s *Server) AcceptPending() {
	s.acceptMu.Lock()
	defer s.acceptMu.Unlock()
	for !s.lnClosed {
		nfd, err := accept4(s.lnfd)
		if err != nil && !errors.Is(err, unix.ECONNABORTED) {
			return
		}
		if err == nil {
			s.addClient(nfd)
		}
	}
}

// acceptReady accepts what the backlog holds, up to acceptBatch (the
// listener is level-triggered: more is reported again).
func (s *Server) acceptReady() {
	var err error
	s.acceptMu.Lock()
	for i := 0; i < acceptBatch && !s.lnClosed; i++ {
		var nfd int
		if nfd, err = accept4(s.lnfd); err == nil {
			s.addClient(nfd)
		} else if !errors.Is(err, unix.ECONNABORTED) {
			break
		}
	}
	s.acceptMu.Unlock()
	if err == nil || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ECONNABORTED) || s.isClosing() || s.w.retry {
		return
	}
	// EMFILE and friends: keep serving the clients (their hang-ups give fds
	// back), without spinning on the listener, and try again later.
	s.log.Warnf("accept on attach socket %s: %v", s.path, err)
	if err := s.ctlListener(unix.EPOLL_CTL_MOD, 0); err == nil {
		s.w.retry = true
		_ = s.w.ep.SetReadDeadline(time.Now().Add(acceptRetry))
	}
}

// accept4 takes one connection, non-blocking and close-on-exec, without the
// peer address (nothing to allocate); the listener is non-blocking, so it
// cannot block.
func accept4(lnfd int) (int, error) {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lnfd), 0, 0,
			unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
		default:
			return -1, e
		}
	}
}

// closeListener closes the listening socket (clients still in the backlog
// see ECONNRESET, which podman treats as EOF, §8.2).
func (s *Server) closeListener() error {
	s.acceptMu.Lock()
	defer s.acceptMu.Unlock()
	s.lnClosed = true
	return s.ln.Close()
}
