package attach

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

const (
	consoleBacklog = 128
	// consoleDataMax: the runtime sends the pty name along with the fd;
	// conmon reads it into a 4096-byte buffer less the NUL and ignores it.
	consoleDataMax = 4095
)

// ConsoleSocket is the --console-socket listener the runtime sends the pty
// master through (§7).
type ConsoleSocket struct {
	path      string
	ln        *os.File
	closeOnce sync.Once
	closeErr  error
}

// NewConsoleSocket binds a SOCK_STREAM listener at a fresh
// <tmpdir>/conmon-term.XXXXXX path; tmpdir "" means os.TempDir().
func NewConsoleSocket(tmpdir string) (*ConsoleSocket, error) {
	if tmpdir == "" {
		tmpdir = os.TempDir()
	}
	path, err := reserveTempName(tmpdir, "conmon-term.")
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create console socket: %w", err)
	}
	// As conmon does: the socket file gets its inode's mode (less the
	// umask) at bind, so only the owner may ever connect, also in a
	// world-writable TMPDIR such as /tmp.
	if err := unix.Fchmod(fd, 0o700); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("chmod console socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind console socket %s: %w", path, err)
	}
	if err := unix.Listen(fd, consoleBacklog); err != nil {
		unix.Close(fd)
		unix.Unlink(path)
		return nil, fmt.Errorf("listen on console socket %s: %w", path, err)
	}
	return &ConsoleSocket{path: path, ln: os.NewFile(uintptr(fd), path)}, nil
}

// reserveTempName does what conmon's mkstemp + unlink does: find a free
// name, then leave the path for bind().
func reserveTempName(dir, prefix string) (string, error) {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 100 {
		var suffix [6]byte
		for i := range suffix {
			suffix[i] = chars[rand.IntN(len(chars))]
		}
		path := filepath.Join(dir, prefix+string(suffix[:]))
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create console socket name in %s: %w", dir, err)
		}
		unix.Close(fd)
		if err := unix.Unlink(path); err != nil {
			return "", fmt.Errorf("remove console socket placeholder %s: %w", path, err)
		}
		return path, nil
	}
	return "", fmt.Errorf("create console socket name in %s: no free name", dir)
}

// Path is what the runtime gets as --console-socket.
func (s *ConsoleSocket) Path() string { return s.path }

// Close unlinks the socket and closes the listener; Receive does this itself
// after its one accept. Safe to call more than once.
func (s *ConsoleSocket) Close() error {
	s.closeOnce.Do(func() {
		err := unix.Unlink(s.path)
		if errors.Is(err, unix.ENOENT) {
			err = nil
		}
		s.closeErr = errors.Join(err, s.ln.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close console socket %s: %w", s.path, s.closeErr)
		}
	})
	return s.closeErr
}

// Receive accepts one connection, closes the listener, and receives the pty
// master. The master gets ONLCR and nothing else: raw mode is the client's
// business, and output therefore carries \r\n (§7). When ctx ends, a
// connection that is already queued is still taken, so a runtime that sent
// the fd and exited just before the caller cancelled is not missed.
func (s *ConsoleSocket) Receive(ctx context.Context) (*Terminal, error) {
	nfd, err := s.accept(ctx)
	_ = s.Close() // one connection only, whatever happened
	if err != nil {
		return nil, fmt.Errorf("Failed to accept console-socket connection: %w", err)
	}
	conn := os.NewFile(uintptr(nfd), s.path)
	defer conn.Close()
	master, name, err := receiveFd(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("Failed to receive console file descriptor: %w", err)
	}
	return newTerminal(master, name)
}

func (s *ConsoleSocket) accept(ctx context.Context) (int, error) {
	nfd := -1
	var aerr error
	err := pollRead(ctx, s.ln, func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return !errors.Is(aerr, unix.EAGAIN)
	})
	if err == nil {
		err = aerr
	}
	return nfd, err
}

// receiveFd reads the runtime's message (pty name + SCM_RIGHTS) and returns
// the first fd; any extra fds are closed.
func receiveFd(ctx context.Context, conn *os.File) (int, string, error) {
	var (
		buf     [consoleDataMax]byte
		oob     = make([]byte, unix.CmsgSpace(4))
		n, oobn int
		rerr    error
	)
	err := pollRead(ctx, conn, func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf[:], oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return -1, "", err
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return -1, "", fmt.Errorf("parse control message: %w", err)
		}
		for i := range msgs {
			got, err := unix.ParseUnixRights(&msgs[i])
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if len(fds) == 0 {
		return -1, "", fmt.Errorf("no file descriptor in a %d-byte message", n)
	}
	for _, extra := range fds[1:] {
		unix.Close(extra)
	}
	return fds[0], string(buf[:n]), nil
}

// pollRead runs op under the poller until it reports done, or ctx ends; in
// the latter case op gets one last non-blocking try.
func pollRead(ctx context.Context, f *os.File, op func(fd uintptr) bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err = rc.Read(op)
	if err == nil || ctx.Err() == nil {
		return err
	}
	done := false
	if cerr := rc.Control(func(fd uintptr) { done = op(fd) }); cerr == nil && done {
		return nil
	}
	return ctx.Err()
}

// Terminal is the pty master received from the runtime.
type Terminal struct {
	f    *os.File
	rc   syscall.RawConn
	con  console.Console
	name string
}

// rawFile hands console the fd without os.File.Fd's side effect of
// switching the descriptor to blocking mode (which would take it off the
// poller and make Close unable to interrupt a Read).
type rawFile struct {
	*os.File
	fd uintptr
}

func (r rawFile) Fd() uintptr { return r.fd }

// newTerminal takes ownership of fd, closing it on failure.
func newTerminal(fd int, name string) (*Terminal, error) {
	// Non-blocking so the master lives under the poller; this changes only
	// our open file description, not the container's slave side.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set pty master %s non-blocking: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	t, err := wrapTerminal(f, uintptr(fd), name)
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

func wrapTerminal(f *os.File, fd uintptr, name string) (*Terminal, error) {
	con, err := console.ConsoleFromFile(rawFile{File: f, fd: fd})
	if err != nil {
		return nil, fmt.Errorf("pty master %s: %w", name, err)
	}
	if err := console.SetONLCR(fd); err != nil { // TCSETS = TCSANOW
		return nil, fmt.Errorf("set ONLCR on pty master %s: %w", name, err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("pty master %s: %w", name, err)
	}
	return &Terminal{f: f, rc: rc, con: con, name: name}, nil
}

// File is the master: the container's stdin and, dup'ed, its stdout (§7).
// It is non-blocking and under the runtime poller.
func (t *Terminal) File() *os.File { return t.f }

// Name is the pty name the runtime sent (informational).
func (t *Terminal) Name() string { return t.name }

// Resize sets rows × cols with TIOCSWINSZ (pixel sizes zero). It holds a
// reference to the fd, so a concurrent Close cannot make it hit a reused fd.
func (t *Terminal) Resize(rows, cols uint16) error {
	var err error
	if cerr := t.rc.Control(func(uintptr) {
		err = t.con.Resize(console.WinSize{Height: rows, Width: cols})
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("Failed to set process pty terminal size %dx%d: %w", rows, cols, err)
	}
	return nil
}

// Close closes the master.
func (t *Terminal) Close() error { return t.f.Close() }
