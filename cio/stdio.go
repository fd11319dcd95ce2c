package cio

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/cio/stream"
)

// stdio is the container's side of the I/O plumbing (§6.3):
//
//	fd   no tty                   -t                   passthrough
//	0    stdin pipe (-i) | null   null                 our 0
//	1    stdout pipe              null                 our 1
//	2    stderr pipe              stderr pipe          our 2
//
// With -t the pty master, received over the console socket, is both the
// container's stdin and its (only) output.
type stdio struct {
	child     [3]int     // what the runtime gets as 0, 1, 2
	childEnds []*os.File // our copies of the child's ends, closed once it runs
	stdin     *os.File   // write side of the container's stdin, nil if none
	out, errp *os.File   // read sides of stdout and stderr
	console   *attach.ConsoleSocket
	term      *attach.Terminal
	null      *os.File
	output    *Poller // reads out and errp; nil until the container runs
	stdinOnce sync.Once
	keepSize  bool // Options.KeepPipeSize
}

func newStdio(o Options) (*stdio, error) {
	s := &stdio{child: [3]int{0, 1, 2}, keepSize: o.KeepPipeSize}
	if o.Passthrough {
		return s, nil
	}
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/null: %w", err)
	}
	s.null = null
	nfd := int(null.Fd())
	s.child = [3]int{nfd, nfd, nfd}
	if o.Terminal {
		if s.console, err = attach.NewConsoleSocket(os.TempDir()); err != nil {
			return nil, err
		}
	} else {
		if o.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, fmt.Errorf("create stdin pipe: %w", err)
			}
			s.stdin = w
			s.child[0] = int(r.Fd())
			s.childEnds = append(s.childEnds, r)
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create stdout pipe: %w", err)
		}
		s.out = r
		s.child[1] = int(w.Fd())
		s.childEnds = append(s.childEnds, w)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create stderr pipe: %w", err)
	}
	s.errp = r
	s.child[2] = int(w.Fd())
	s.childEnds = append(s.childEnds, w)
	return s, nil
}

// closeChildEnds drops our copies of the ends the runtime now holds, so EOF
// arrives when the container's last writer is gone.
func (s *stdio) closeChildEnds() {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
}

// runtimeStderr returns what the runtime wrote to the stderr pipe, one
// non-blocking read of at most 8191 bytes, as conmon reports it (§5.2).
func (s *stdio) runtimeStderr() string {
	if s.errp == nil {
		return ""
	}
	buf := make([]byte, 8191)
	var n int
	rc, err := s.errp.SyscallConn()
	if err != nil {
		return ""
	}
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.Read(int(fd), buf)
	})
	if n <= 0 {
		return ""
	}
	return string(buf[:n])
}

// receiveConsole takes the pty master the runtime sent to the console socket.
func (s *stdio) receiveConsole(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	t, err := s.console.Receive(ctx)
	if err != nil {
		return err
	}
	s.term = t
	s.stdin, s.out = t.File(), t.File()
	return nil
}

// closeStdin gives the container EOF on stdin (a pipe only: closing the pty
// master would hang up the terminal). It runs on an attach client's
// goroutine, possibly while receiveConsole sets s.stdin, so with a terminal
// it decides on s.console, which never changes after newStdio.
func (s *stdio) closeStdin() {
	if s.console != nil {
		return
	}
	s.stdinOnce.Do(func() {
		if s.stdin != nil {
			s.stdin.Close()
		}
	})
}

// startOutput reads the container's stdout and stderr (or its pty master)
// from one poller, so that the sink gets them in the order they were
// written.
func (s *stdio) startOutput(sink func(stream.Stream, []byte), woke, quiet func()) error {
	if s.out == nil && s.errp == nil {
		return nil // passthrough: the container has our own fds
	}
	p, err := NewPoller(sink)
	if err != nil {
		return err
	}
	if s.keepSize {
		p.KeepPipeSize()
	}
	if s.out != nil {
		if err := p.Add(s.out, stream.Stdout, s.console != nil); err != nil {
			p.Close()
			return err
		}
	}
	if s.errp != nil {
		if err := p.Add(s.errp, stream.Stderr, false); err != nil {
			p.Close()
			return err
		}
	}
	p.OnWake(woke)
	p.OnQuiet(quiet)
	p.Start()
	s.output = p
	return nil
}
