package attach

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
)

// The watcher is the attach socket's one goroutine while no client has
// anything to receive: it accepts connections, and it watches every client
// for input and hang-up, through an epoll instance of its own (as
// cio.Poller does: the epoll fd is non-blocking and under Go's netpoller, so
// waiting parks the goroutine, not a thread). A client costs a goroutine
// only while it has something to do: its writer runs while output is queued
// for it (client.go), and a reader while its input is forwarded to a
// container stdin that may block (input.go).
//
// Issue 11: with a reader and a writer goroutine per client, and a hang-up
// noticed only when a write failed, 10,000 connect-and-close on an idle
// container left 10,000 goroutines and ~90 MB of RSS behind for minutes.
//
// Registrations: the listener is level-triggered (it is accepted from until
// EAGAIN, at most acceptBatch at a time so clients are served in between);
// each client is EPOLLONESHOT, re-armed by whoever handled its event, so
// exactly one goroutine handles a client's input at a time. Until its
// input ends a client is watched for EPOLLIN|EPOLLRDHUP; after that (it shut
// down its write side, §8.2: output continues) only for EPOLLHUP, which the
// kernel reports once the peer has closed both directions.
type watcher struct {
	ep     *os.File // the epoll instance, under the netpoller
	rc     syscall.RawConn
	step   func(uintptr) bool // s.serveEvents, made once
	events []unix.EpollEvent
	retry  bool          // the listener is disarmed after an accept error
	done   chan struct{} // closed when the watcher's goroutine has ended
	// epMu makes epoll_ctl calls (from any goroutine) and closing the epoll
	// fd exclusive; epfd is -1 once closed.
	epMu sync.RWMutex
	epfd int
}

// errWatcherClosed: the server is closing; nothing is watched any more.
var errWatcherClosed = errors.New("attach watcher closed")

const (
	// listenerSlot marks the listener's epoll events.
	listenerSlot = -1
	// acceptBatch bounds the accepts per listener event.
	acceptBatch = 32
	// watchEvents is how many events one epoll_wait returns at most. 16
	// (192 bytes) shares a heap size class with other start-up objects;
	// 64 (768 bytes) kept a page of a class of its own resident in every
	// idle monitor (docs/memory.md), and a storm only takes more wake-ups.
	watchEvents = 16
	// acceptRetry: after an accept error such as EMFILE the listener rests
	// this long (client hang-ups go on being served meanwhile, which is
	// what gives fds back).
	acceptRetry = 100 * time.Millisecond

	inputEvents  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	hangupEvents = unix.EPOLLONESHOT // EPOLLHUP and EPOLLERR are always reported
)

// startWatcher creates the epoll instance with the listener in it.
func (s *Server) startWatcher() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("attach socket %s: epoll_create1: %w", s.path, err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return fmt.Errorf("attach socket %s: set epoll fd %d non-blocking: %w", s.path, epfd, err)
	}
	ep := os.NewFile(uintptr(epfd), "attach epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return fmt.Errorf("attach socket %s: epoll fd %d: %w", s.path, epfd, err)
	}
	w := &s.w
	w.ep, w.rc, w.epfd = ep, rc, epfd
	w.step = s.serveEvents
	w.events = make([]unix.EpollEvent, watchEvents)
	w.done = make(chan struct{})
	if err := s.ctlListener(unix.EPOLL_CTL_ADD, unix.EPOLLIN); err != nil {
		ep.Close()
		return fmt.Errorf("attach socket %s: watch listener: %w", s.path, err)
	}
	go s.watch()
	return nil
}

func (s *Server) watch() {
	defer close(s.w.done)
	for {
		err := s.w.rc.Read(s.w.step)
		if s.isClosing() || !errors.Is(err, os.ErrDeadlineExceeded) {
			return // closing, or epoll failed
		}
		// The deadline was the listener's rest after an accept error.
		s.w.retry = false
		_ = s.w.ep.SetReadDeadline(time.Time{})
		if err := s.ctlListener(unix.EPOLL_CTL_MOD, unix.EPOLLIN); err != nil {
			s.log.Warnf("attach socket %s: rearm listener: %v", s.path, err)
			return
		}
	}
}

// serveEvents is rc.Read's callback: it handles ready events until there
// are none (false: wait in the netpoller) or the server closes (true).
func (s *Server) serveEvents(uintptr) bool {
	for {
		if s.isClosing() {
			return true
		}
		n := cabi.EpollReady(s.w.epfd, s.w.events)
		if n < 0 {
			s.log.Warnf("attach socket %s: epoll_wait failed", s.path)
			return true
		}
		if n == 0 {
			return false
		}
		for _, ev := range s.w.events[:n] {
			if ev.Fd == listenerSlot {
				s.acceptReady()
				continue
			}
			s.mu.Lock()
			c := s.set.lookup(ev.Fd, ev.Pad)
			s.mu.Unlock()
			if c != nil {
				c.event(ev.Events)
			}
		}
		if s.collectDue() {
			runtime.GC() // release.go
		}
	}
}

func (s *Server) ctlListener(op int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: listenerSlot}
	return s.ctlFd(op, s.lnfd, &ev)
}

// ctlFd is epoll_ctl on the watcher's instance; the caller makes sure fd is
// open (it holds the client's fdMu).
func (s *Server) ctlFd(op, fd int, ev *unix.EpollEvent) error {
	s.w.epMu.RLock()
	defer s.w.epMu.RUnlock()
	if s.w.epfd < 0 {
		return errWatcherClosed
	}
	if err := unix.EpollCtl(s.w.epfd, op, fd, ev); err != nil {
		return fmt.Errorf("epoll_ctl %d on fd %d: %w", op, fd, err)
	}
	return nil
}

// stopWatcher ends the watcher (closing is set) and closes the epoll fd.
func (s *Server) stopWatcher() {
	_ = s.w.ep.SetReadDeadline(time.Unix(1, 0))
	<-s.w.done
	s.w.epMu.Lock()
	s.w.epfd = -1
	s.w.epMu.Unlock()
	_ = s.w.ep.Close()
}
