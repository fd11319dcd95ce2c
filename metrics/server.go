package metrics

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
)

// SocketName is the metrics socket's name in the bundle, beside "attach".
const SocketName = "metrics.sock"

const (
	// writeTimeout bounds how long one scrape may take to be read: a client
	// that connects and never reads holds a goroutine at most this long.
	writeTimeout = 2 * time.Second
	// maxScrapes is how many connections are served at once; more are
	// closed at once, so a flood of connections cannot pile up goroutines.
	maxScrapes = 4
	backlog    = 16
)

// The protocol is the simplest there is: connect, read the exposition until
// EOF. Nothing is read from the client, so a client can make the monitor do
// nothing but render the text and write it, under a deadline. The data path
// shares no lock with this: every number is an atomic.

// server serves render's output to every connection on a unix stream socket.
type server struct {
	render  func([]byte) []byte
	timeout time.Duration

	ln       *os.File
	path     string
	dev, ino uint64 // of the socket file, so Close removes ours only
	slots    chan struct{}
	wg       sync.WaitGroup // the accept loop and the connections (tests wait)
}

// Listen serves the metrics on <dir>/metrics.sock, mode 0600.
func (c *Container) Listen(dir string) error {
	if c == nil {
		return nil
	}
	s, err := listen(dir, c.Append, writeTimeout)
	if err != nil {
		return err
	}
	c.srv = s
	return nil
}

// Close stops serving and removes the socket.
func (c *Container) Close() {
	if c == nil || c.srv == nil {
		return
	}
	c.srv.close()
}

func listen(dir string, render func([]byte) []byte, timeout time.Duration) (*server, error) {
	s := &server{render: render, timeout: timeout, path: filepath.Join(dir, SocketName),
		slots: make(chan struct{}, maxScrapes)}
	// Owner-only: the umask leaves nobody else write access before the
	// chmod, and only the monitor's user (and root) can connect after it.
	bs, err := cabi.BindUnix(dir, SocketName, unix.SOCK_STREAM, 0o600, backlog)
	if err != nil {
		return nil, fmt.Errorf("metrics socket: %w", err)
	}
	s.dev, s.ino = bs.Dev, bs.Ino
	s.ln = os.NewFile(uintptr(bs.Fd), s.path) // non-blocking: under the runtime poller
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *server) acceptLoop() {
	defer s.wg.Done()
	rc, err := s.ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var nfd int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return !errors.Is(aerr, unix.EAGAIN)
		})
		switch {
		case err != nil:
			return // closed
		case aerr == nil:
			s.serve(nfd)
		case errors.Is(aerr, unix.EINTR), errors.Is(aerr, unix.ECONNABORTED):
		default:
			time.Sleep(100 * time.Millisecond) // EMFILE and friends: do not spin
		}
	}
}

// serve answers one connection on a goroutine of its own, or closes it at
// once when maxScrapes are being served already.
func (s *server) serve(nfd int) {
	select {
	case s.slots <- struct{}{}:
	default:
		unix.Close(nfd)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		conn := os.NewFile(uintptr(nfd), "metrics client")
		defer conn.Close()
		body := s.render(make([]byte, 0, 8<<10))
		// The deadline bounds the client, so it starts once the text is ready.
		_ = conn.SetWriteDeadline(time.Now().Add(s.timeout))
		_, _ = conn.Write(body)
	}()
}

// close stops accepting and removes the socket file, unless it is no longer
// ours (a newer monitor for the same bundle replaced it).
func (s *server) close() {
	s.ln.Close()
	var st unix.Stat_t
	if unix.Lstat(s.path, &st) == nil && st.Dev == s.dev && st.Ino == s.ino {
		_ = unix.Unlink(s.path)
	}
}
