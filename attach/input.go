package attach

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// Input side of the attach socket: client datagrams go to the container's
// stdin, serialised, and a client's EOF may close it (§8.2).

// SetInput sets the container stdin once it exists (with -t: the pty
// master). Input that clients sent earlier is delivered now (§7). Later calls are
// ignored.
func (s *Server) SetInput(w io.Writer) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.input != nil || w == nil {
		return
	}
	s.input = w
	close(s.inputReady)
}

// forward writes one client datagram to the container's stdin. It waits for
// the input to exist (tty) and gives up if the client or server goes away.
func (s *Server) forward(c *client, p []byte) {
	if !s.opts.Stdin && !s.opts.Terminal {
		return // no stdin: input is read and discarded (§8.2)
	}
	select {
	case <-s.inputReady:
	case <-s.done:
		return
	case <-c.deadChan():
		return
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.stdinClosed {
		return
	}
	n, err := s.input.Write(p)
	s.stats.input.Add(uint64(max(n, 0)))
	if err != nil && !s.inputErrLog {
		s.inputErrLog = true
		s.log.Warnf("write attach input to container stdin: %v", err)
	}
}

// inputEOF handles a client's read-side EOF (§8.2): it ends the container's
// stdin for everyone unless --leave-stdin-open. With wait false it does not
// wait for the input lock (a write to a container that does not read its
// stdin may hold it) and reports false if it would have had to.
func (s *Server) inputEOF(wait bool) bool {
	if !s.opts.Stdin || s.isClosing() {
		return true
	}
	if s.opts.LeaveStdinOpen {
		s.log.Infof("Not closing input")
		return true
	}
	if wait {
		s.inMu.Lock()
	} else if !s.inMu.TryLock() {
		return false
	}
	defer s.inMu.Unlock()
	if s.stdinClosed {
		return true
	}
	s.stdinClosed = true
	if s.opts.CloseStdin != nil {
		s.opts.CloseStdin()
	}
	return true
}

// event handles the watcher's epoll event for c: its input, or its hang-up
// once its input has ended.
func (c *client) event(events uint32) {
	if c.inputDone.Load() {
		c.drop() // only EPOLLHUP or EPOLLERR is watched now
		return
	}
	c.pumpInput(true, events&(unix.EPOLLHUP|unix.EPOLLERR) != 0)
}

// pumpInput reads what c sent until nothing is left, then re-arms c's
// one-shot registration. On the watcher (onWatcher) it never blocks: input
// to forward, and an EOF that must wait for the input lock, continue on a
// goroutine of the client's own, which ends when the input does. hup: the
// event said the peer has closed, so EOF means the client is gone.
func (c *client) pumpInput(onWatcher, hup bool) {
	s := c.srv
	forwarding := s.opts.Stdin || s.opts.Terminal
	for {
		bp, n, err := c.read()
		switch {
		case errors.Is(err, unix.EAGAIN):
			c.arm(inputEvents)
			return
		case errors.Is(err, errClientClosed):
			return
		case n > 0 && !forwarding:
			// No stdin: input is read and discarded (§8.2); on the watcher
			// one datagram per event, so a chatty client cannot hog it.
			inputPool.Put(bp)
			if onWatcher {
				c.arm(inputEvents)
				return
			}
		case n > 0 && onWatcher:
			c.shared.Store(true)
			go c.inputLoop(bp, n)
			return
		case n > 0:
			s.forward(c, (*bp)[:n])
			inputPool.Put(bp)
		default:
			// EOF (the client shut down its write side or closed) or a
			// broken connection: either way this client's input has ended.
			c.inputDone.Store(true)
			if !s.inputEOF(!onWatcher) {
				c.shared.Store(true)
				go func() {
					s.inputEOF(true)
					c.inputEnded(err, hup)
				}()
				return
			}
			c.inputEnded(err, hup)
			return
		}
	}
}

// inputLoop forwards the datagram the watcher read, and whatever follows it.
func (c *client) inputLoop(bp *[]byte, n int) {
	c.srv.forward(c, (*bp)[:n])
	inputPool.Put(bp)
	c.pumpInput(false, false)
}

// inputEnded follows a client's EOF: a broken connection or a client that
// has closed (hup) is dropped, one that only shut down its write side keeps
// getting output until it closes (§8.2), which its registration now waits
// for (an EPOLLHUP already there is reported at once).
func (c *client) inputEnded(err error, hup bool) {
	if err != nil {
		c.srv.log.Debugf("attach client %d: read: %v", c.id, err)
	}
	if err != nil || hup {
		c.drop()
		return
	}
	c.arm(hangupEvents)
}
