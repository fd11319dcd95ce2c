package attach

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// testLog records every message with its level letter.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(level, format string, args []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+fmt.Sprintf(format, args...))
}

func (l *testLog) Warnf(f string, a ...any)  { l.add("W", f, a) }
func (l *testLog) Infof(f string, a ...any)  { l.add("I", f, a) }
func (l *testLog) Debugf(f string, a ...any) { l.add("D", f, a) }

// count returns how many lines contain s.
func (l *testLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// warnings returns the W lines.
func (l *testLog) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.HasPrefix(line, "W: ") {
			out = append(out, strings.TrimPrefix(line, "W: "))
		}
	}
	return out
}

// dial connects like podman does: open the directory O_PATH and connect to
// /proc/self/fd/N/attach, which works for any path length.
func dial(t testing.TB, dir string) *net.UnixConn {
	t.Helper()
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	defer unix.Close(dfd)
	addr := &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/attach", Net: "unixpacket"}
	c, err := net.DialUnix("unixpacket", nil, addr)
	if err != nil {
		t.Fatalf("connect to %s/attach: %v", dir, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect dials and waits until the server has accepted, so that output
// broadcast afterwards reaches the new client. It counts accepts, not
// clients: a client closed just before may be dropped meanwhile.
func connect(t testing.TB, s *Server, dir string) *net.UnixConn {
	t.Helper()
	before := s.Stats().Accepted
	c := dial(t, dir)
	testutil.Eventually(t, 5*time.Second, "accept", func() bool { return s.Stats().Accepted > before })
	return c
}

// readDatagram reads one datagram with a buffer far larger than allowed,
// so an oversized datagram would be visible.
func readDatagram(t testing.TB, c *net.UnixConn) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read datagram: %v", err)
	}
	return buf[:n]
}

// expectEOF reads until EOF, failing on timeout; it returns the payload
// bytes seen on the way.
func expectEOF(t testing.TB, c *net.UnixConn) int {
	t.Helper()
	buf := make([]byte, 65536)
	total := 0
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, err := c.Read(buf)
		if n > 0 {
			total += n - 1
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no EOF after %d payload bytes", total)
		}
		if err != nil || n == 0 {
			return total
		}
	}
}

// sinkRecorder is an input sink recording each Write separately.
type sinkRecorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (r *sinkRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (r *sinkRecorder) get() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.writes...)
}

// newServer listens in a fresh bundle with full attach unless opts says
// otherwise, and closes the server at the end of the test.
func newServer(t testing.TB, opts Options) (*Server, *testLog) {
	t.Helper()
	log := &testLog{}
	if opts.Bundle == "" {
		opts.Bundle = t.TempDir()
		opts.FullAttach = true
	}
	opts.Logger = log
	s, err := Listen(opts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, log
}

// readPattern reads stdout frames from c until total bytes of pattern
// have come, and fails on a frame that is not stdout's, is oversized, or
// does not continue the pattern (reordering, loss, duplication). Before each
// read, progress (nil: none) is told how far it got and may pause.
func readPattern(c *net.UnixConn, total int, progress func(off int)) error {
	buf := make([]byte, 65536)
	for off := 0; off < total; {
		if progress != nil {
			progress(off)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if buf[0] != stream.Stdout.AttachID() || n > maxFrame || !bytes.Equal(buf[1:n], pattern(off, n-1)) {
			return errBadData
		}
		off += n - 1
	}
	if progress != nil {
		progress(total)
	}
	return nil
}

// pattern returns n bytes continuing a position-dependent sequence, so
// reordering, loss or duplication is detectable.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((off + i) % 251)
	}
	return b
}
