package metrics

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

// dial connects through /proc/self/fd/N/metrics.sock, as the exporter does.
func dial(t *testing.T, dir string) *net.UnixConn {
	t.Helper()
	c, err := tryDial(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tryDial(dir string) (*net.UnixConn, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + SocketName, Net: "unix"})
}

func readAll(t *testing.T, c *net.UnixConn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read metrics: %v", err)
	}
	return b
}

// longDir is a bundle-like directory whose socket path exceeds sun_path.
func longDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServeSocket(t *testing.T) {
	dir := longDir(t)
	os.WriteFile(filepath.Join(dir, SocketName), nil, 0o644) // stale: replaced
	c := New(Labels{ContainerID: "abc", Name: "web"}, Sources{})
	if err := c.Listen(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SocketName)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() {
		t.Fatalf("socket owned by %d, want %d", st.Uid, os.Geteuid())
	}
	for range 3 {
		fams := parse(t, readAll(t, dial(t, dir)))
		value(t, fams, "shim_monitor_goroutines", map[string]string{"container_name": "web"})
	}
	c.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket still there after Close: %v", err)
	}
	c.srv.wg.Wait()
}

// TestCloseLeavesForeignSocket: a socket that replaced ours (a newer monitor
// for the same bundle) is not removed.
func TestCloseLeavesForeignSocket(t *testing.T) {
	dir := t.TempDir()
	c := New(Labels{}, Sources{})
	if err := c.Listen(dir); err != nil {
		t.Fatal(err)
	}
	other, err := listen(dir, func(b []byte) []byte { return b }, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	c.Close()
	if _, err := os.Lstat(filepath.Join(dir, SocketName)); err != nil {
		t.Fatalf("the newer socket was removed: %v", err)
	}
}

// bigServer serves a reply far larger than a socket buffer, so a client
// that does not read blocks the write; once small is set it serves "# ok".
func bigServer(t *testing.T, timeout time.Duration) (s *server, dir string, small *atomic.Bool) {
	dir = t.TempDir()
	big := bytes.Repeat([]byte("# filler\n"), 8<<20/9)
	small = new(atomic.Bool)
	s, err := listen(dir, func(b []byte) []byte {
		if small.Load() {
			return append(b, "# ok\n"...)
		}
		return append(b, big...)
	}, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s, dir, small
}

// TestStuckClientsTakeNoMoreThanTheirSlots: while maxScrapes clients that
// never read are being served, further connections are closed at once
// rather than queued; when the stuck ones go, scrapes work again.
func TestStuckClientsTakeNoMoreThanTheirSlots(t *testing.T) {
	s, dir, small := bigServer(t, time.Hour)
	var stuck []*net.UnixConn
	for range maxScrapes {
		stuck = append(stuck, dial(t, dir))
	}
	testutil.Eventually(t, 10*time.Second, "all slots taken", func() bool { return len(s.slots) == maxScrapes })
	if b := readAll(t, dial(t, dir)); len(b) != 0 {
		t.Fatalf("got %d bytes while every slot was taken", len(b))
	}
	for _, c := range stuck {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, "slots to free", func() bool { return len(s.slots) == 0 })
	small.Store(true)
	if b := readAll(t, dial(t, dir)); string(b) != "# ok\n" {
		t.Fatalf("after the stuck clients: %q", b)
	}
}

// TestStuckClientTimesOut: a client that stops reading and never closes
// holds its goroutine only until the write deadline, which cuts its reply.
func TestStuckClientTimesOut(t *testing.T) {
	s, dir, _ := bigServer(t, 100*time.Millisecond)
	c := dial(t, dir)
	one := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, one); err != nil { // the write has begun
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the stuck write to time out", func() bool { return len(s.slots) == 0 })
	if b := readAll(t, c); len(b)+1 >= 8<<20/9*9 {
		t.Fatalf("the whole reply (%d bytes) arrived: no deadline", len(b)+1)
	}
}

// TestConnectionFlood: many connections at once, some never read, do not
// leak descriptors or goroutines in the server.
func TestConnectionFlood(t *testing.T) {
	dir := t.TempDir()
	before := testutil.OpenFds(t)
	c := New(Labels{ContainerID: "x"}, Sources{})
	if err := c.Listen(dir); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	served := 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := tryDial(dir)
			if err != nil {
				return // EAGAIN: the backlog is full, as it should be in a flood
			}
			defer conn.Close()
			if i%2 == 0 {
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, _ := io.Copy(io.Discard, conn); n > 0 {
					mu.Lock()
					served++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if served == 0 {
		t.Fatal("no connection of the flood was served")
	}
	// Afterwards the server answers as before.
	conn := dial(t, dir)
	value(t, parse(t, readAll(t, conn)), "shim_monitor_goroutines", nil)
	conn.Close()
	testutil.Eventually(t, 10*time.Second, "connections to finish", func() bool { return len(c.srv.slots) == 0 })
	c.Close()
	c.srv.wg.Wait()
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("%d fds open, %d before", after, before)
	}
}
