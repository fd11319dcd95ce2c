package notify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

func TestFilter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"READY=1", "READY=1"},
		{"READY=1\n", "READY=1"},
		{"MAINPID=42\nREADY=1", "READY=1"},
		{"MAINPID=42", ""},
		{"READY=1\nSTATUS=up and running\nMAINPID=7\nWATCHDOG=1", "READY=1\nSTATUS=up and running\nWATCHDOG=1"},
		{"READY=1\r\nSTATUS=x\rSTOPPING=1", "READY=1\nSTATUS=x\nSTOPPING=1"},
		{"RELOADING=1\nWATCHDOG=trigger\nERRNO=2\nBUSERROR=org.x.E\nMONOTONIC_USEC=123", "RELOADING=1\nWATCHDOG=trigger\nERRNO=2\nBUSERROR=org.x.E\nMONOTONIC_USEC=123"},
		// Exact matches only for the state words.
		{"READY=0\nREADY=11\n READY=1\nready=1\nWATCHDOG=2\nWATCHDOG_USEC=5", ""},
		{"FDSTORE=1\nFDNAME=x\nEXTEND_TIMEOUT_USEC=1\nNOTIFYACCESS=all", ""},
		{"STATUS=", "STATUS="},
		{"\n\n", ""},
		{"", ""},
	} {
		if got := string(Filter([]byte(tc.in))); got != tc.want {
			t.Errorf("Filter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

type recLogger struct {
	mu   sync.Mutex
	warn []string
}

func (l *recLogger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.warn)
}

func (l *recLogger) Warnf(f string, a ...any) {
	l.mu.Lock()
	l.warn = append(l.warn, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

// host listens where systemd's NOTIFY_SOCKET would be.
func host(t *testing.T) (string, *net.UnixConn) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "host.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return p, l
}

func bundle(t *testing.T) string {
	t.Helper()
	b := t.TempDir()
	if err := os.Mkdir(filepath.Join(b, "notify"), 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func send(t *testing.T, sock, msg string) {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, l *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 64*1024)
	l.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// Datagrams in order: nothing allowed is sent nowhere, the rest arrives
// filtered, one datagram per message.
func TestRelay(t *testing.T) {
	hostPath, l := host(t)
	b := bundle(t)
	before := testutil.OpenFds(t)
	lg := &recLogger{}
	r, err := Start(b, hostPath, lg)
	if err != nil {
		t.Fatal(err)
	}
	sock := SocketPath(b)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o777 {
		t.Fatalf("%s: mode %v, want a socket with 0777", sock, fi.Mode())
	}
	send(t, sock, "MAINPID=1")          // dropped whole
	send(t, sock, "")                   // empty datagram: dropped, relay keeps going
	send(t, sock, "MAINPID=1\nREADY=1") // MAINPID removed
	if got := recv(t, l); got != "READY=1" {
		t.Fatalf("host got %q, want READY=1", got)
	}
	big := "STATUS=" + strings.Repeat("x", 30000)
	send(t, sock, "WATCHDOG=1\r\n"+big)
	if got := recv(t, l); got != "WATCHDOG=1\n"+big {
		t.Fatalf("host got %d bytes starting %q", len(got), got[:min(40, len(got))])
	}
	r.Close()
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("fds: %d before, %d after Close", before, after)
	}
	if len(lg.warn) != 0 {
		t.Fatalf("warnings: %q", lg.warn)
	}
}

// A stale socket file from an earlier monitor is replaced.
func TestRelayReplacesStaleSocket(t *testing.T) {
	hostPath, l := host(t)
	b := bundle(t)
	if err := os.WriteFile(SocketPath(b), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Start(b, hostPath, &recLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	send(t, SocketPath(b), "READY=1")
	if got := recv(t, l); got != "READY=1" {
		t.Fatalf("host got %q", got)
	}
}

// Bundles deeper than sun_path allows still work (bind through /proc/self/fd).
func TestRelayLongBundlePath(t *testing.T) {
	hostPath, l := host(t)
	b := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(filepath.Join(b, "notify"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Start(b, hostPath, &recLogger{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Send through the same trick: the path is too long for a sockaddr.
	dir, err := os.Open(filepath.Join(b, "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	send(t, fmt.Sprintf("/proc/self/fd/%d/notify.sock", dir.Fd()), "STOPPING=1")
	if got := recv(t, l); got != "STOPPING=1" {
		t.Fatalf("host got %q", got)
	}
}

// Without <bundle>/notify the relay cannot start; conmon's text.
func TestRelayNoNotifyDir(t *testing.T) {
	hostPath, _ := host(t)
	before := testutil.OpenFds(t)
	_, err := Start(t.TempDir(), hostPath, &recLogger{})
	if err == nil || err.Error() != "Failed to bind to console-socket No such file or directory" {
		t.Fatalf("error %v", err)
	}
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("fds: %d before, %d after the failure", before, after)
	}
}

// A host socket that is gone: one warning, the relay goes on.
func TestRelayHostGoneWarnsOnce(t *testing.T) {
	hostPath, l := host(t)
	l.Close()
	os.Remove(hostPath)
	b := bundle(t)
	lg := &recLogger{}
	r, err := Start(b, hostPath, lg)
	if err != nil {
		t.Fatal(err)
	}
	send(t, SocketPath(b), "READY=1")
	testutil.Within(10*time.Second, func() bool { return lg.count() != 0 })
	send(t, SocketPath(b), "READY=1") // fails again, unless handled after l2 below
	// A new host socket at the same path gets the next message; the relay
	// handles datagrams in order, so the one above has been handled then.
	l2, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: hostPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	send(t, SocketPath(b), "STATUS=back")
	for {
		got := recv(t, l2)
		if got == "STATUS=back" {
			break
		}
		if got != "READY=1" {
			t.Fatalf("host got %q", got)
		}
	}
	r.Close()
	if lg.count() != 1 || !strings.Contains(lg.warn[0], hostPath) {
		t.Fatalf("warnings %q, want one naming %s", lg.warn, hostPath)
	}
}
