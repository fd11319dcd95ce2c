package attach

import "io"

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
	case <-c.dead:
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
// stdin for everyone unless --leave-stdin-open.
func (s *Server) inputEOF() {
	if !s.opts.Stdin {
		return
	}
	if s.opts.LeaveStdinOpen {
		s.log.Infof("Not closing input")
		return
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.stdinClosed {
		return
	}
	s.stdinClosed = true
	if s.opts.CloseStdin != nil {
		s.opts.CloseStdin()
	}
}
