package metrics

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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
	// Bind through /proc/self/fd/<dirfd>/: bundle paths are often longer
	// than sun_path (108 bytes), as the attach socket's are.
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open metrics socket dir %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, SocketName, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("remove stale metrics socket %s: %w", s.path, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create metrics socket: %w", err)
	}
	if err := s.bind(fd, dfd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.ln = os.NewFile(uintptr(fd), s.path) // non-blocking: under the runtime poller
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

func (s *server) bind(fd, dfd int) error {
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + SocketName}); err != nil {
		return fmt.Errorf("bind metrics socket %s: %w", s.path, err)
	}
	// The umask leaves nobody else write access, so nobody else can connect
	// before the chmod; after it only the monitor's user (and root) can.
	var st unix.Stat_t
	err := unix.Fchmodat(dfd, SocketName, 0o600, 0)
	if err != nil {
		err = fmt.Errorf("chmod metrics socket %s: %w", s.path, err)
	} else if err = unix.Fstatat(dfd, SocketName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		err = fmt.Errorf("stat metrics socket %s: %w", s.path, err)
	} else if err = unix.Listen(fd, backlog); err != nil {
		err = fmt.Errorf("listen on metrics socket %s: %w", s.path, err)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, SocketName, 0)
		return err
	}
	s.dev, s.ino = st.Dev, st.Ino
	return nil
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
