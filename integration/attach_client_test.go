package integration

// An attach-socket client as the engines write it (§8.2): SOCK_SEQPACKET,
// output datagrams [stream id][payload ≤ 8192], raw input datagrams, a
// half-close to end the container's stdin.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

type attachClient struct {
	t    *testing.T
	conn *net.UnixConn

	mu     sync.Mutex
	out    map[byte]*bytes.Buffer // stream id -> payload bytes received
	frames int
	bad    string // first violation of the framing rules
	err    error  // how reading ended (nil: clean EOF)
	done   chan struct{}
}

// dialAttach connects to path the way podman does for long paths: open
// its directory O_PATH and connect through /proc/self/fd/N/attach.
func dialAttach(t *testing.T, path string) *attachClient {
	t.Helper()
	c := &attachClient{t: t, conn: dialPacket(t, path), done: make(chan struct{}),
		out: map[byte]*bytes.Buffer{2: {}, 3: {}}}
	go c.readLoop()
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// dialPacket only connects; nobody reads unless the caller does.
func dialPacket(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	dfd, err := unix.Open(strings.TrimSuffix(path, "/attach"), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open the attach socket's directory: %v", err)
	}
	defer unix.Close(dfd)
	addr := &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/attach", Net: "unixpacket"}
	conn, err := net.DialUnix("unixpacket", nil, addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", path, err)
	}
	return conn
}

func (c *attachClient) readLoop() {
	defer close(c.done)
	buf := make([]byte, 65536) // far more than allowed, so oversize shows
	for {
		n, err := c.conn.Read(buf)
		if n > 0 {
			c.mu.Lock()
			c.frames++
			switch {
			case n > 1+8192 && c.bad == "":
				c.bad = fmt.Sprintf("datagram of %d bytes (max 8193)", n)
			case buf[0] != 2 && buf[0] != 3 && c.bad == "":
				c.bad = fmt.Sprintf("stream id %d", buf[0])
			case n == 1 && c.bad == "":
				c.bad = "datagram without payload"
			}
			if b := c.out[buf[0]]; b != nil {
				b.Write(buf[1:n])
			}
			c.mu.Unlock()
		}
		if err != nil || n == 0 {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				err = nil // we closed, or the monitor reset us at exit (podman: EOF)
			}
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
	}
}

// stream returns everything received so far on stream id (2 or 3).
func (c *attachClient) stream(id byte) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bad != "" {
		c.t.Errorf("attach framing violated: %s", c.bad)
		c.bad = ""
	}
	return c.out[id].String()
}

// endsWith reports whether stream id's data so far ends with s.
func (c *attachClient) endsWith(id byte, s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.HasSuffix(c.out[id].Bytes(), []byte(s))
}

func (c *attachClient) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out[2].Len() + c.out[3].Len()
}

// waitFor waits until stream id has carried s.
func (c *attachClient) waitFor(id byte, s string) {
	c.t.Helper()
	testutil.Eventually(c.t, 20*time.Second, fmt.Sprintf("%q on attach stream %d", s, id), func() bool {
		return strings.Contains(c.stream(id), s)
	})
}

// waitEOF waits until the monitor closed the connection.
func (c *attachClient) waitEOF() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.t.Fatalf("attach client: no EOF after 20s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		c.t.Errorf("attach client: read ended with %v, want EOF", c.err)
	}
}

func (c *attachClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("attach client write: %v", err)
	}
}

// closeWrite is CRI-O's and podman's end of input: shutdown(SHUT_WR).
func (c *attachClient) closeWrite() {
	c.t.Helper()
	if err := c.conn.CloseWrite(); err != nil {
		c.t.Fatalf("attach client shutdown: %v", err)
	}
}

// fifoPending is how many bytes sit unread in a FIFO (FIONREAD works on
// either end of a pipe).
func fifoPending(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // = FIONREAD
	if err != nil {
		t.Fatalf("FIONREAD %s: %v", f.Name(), err)
	}
	return n
}
