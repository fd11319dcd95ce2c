package attach

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// newPty opens a real pty pair with ONLCR cleared on the master, so the test
// can see Receive set it.
func newPty(t *testing.T) (console.Console, string) {
	t.Helper()
	master, slave, err := console.NewPty()
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := console.ClearONLCR(master.Fd()); err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// sendMaster plays the runtime: connect, send the pty name with the master
// fd attached (SCM_RIGHTS), close.
func sendMaster(t *testing.T, path string, name string, fds ...int) {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("connect console socket: %v", err)
	}
	defer c.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix([]byte(name), oob, nil); err != nil {
		t.Fatalf("sendmsg: %v", err)
	}
}

func termios(t *testing.T, fd uintptr) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

func TestConsoleSocketReceivesPtyMaster(t *testing.T) {
	dir := t.TempDir()
	cs, err := NewConsoleSocket(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := regexp.MatchString(`^conmon-term\.[A-Za-z0-9]{6}$`, filepath.Base(cs.Path())); !ok ||
		filepath.Dir(cs.Path()) != dir {
		t.Fatalf("socket path %q", cs.Path())
	}
	master, slavePath := newPty(t)
	before := termios(t, master.Fd())
	sendMaster(t, cs.Path(), slavePath, int(master.Fd()))

	term, err := cs.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	if term.Name() != slavePath {
		t.Errorf("name %q, want %q", term.Name(), slavePath)
	}
	if _, err := os.Lstat(cs.Path()); !os.IsNotExist(err) {
		t.Errorf("socket path not removed after accept: %v", err)
	}
	if _, err := net.Dial("unix", cs.Path()); err == nil {
		t.Error("listener still accepts after Receive")
	}

	// ONLCR and nothing else (no raw mode).
	rc, _ := term.File().SyscallConn()
	var after *unix.Termios
	rc.Control(func(fd uintptr) { after = termios(t, fd) })
	if after.Oflag&unix.ONLCR == 0 {
		t.Error("ONLCR not set on the master")
	}
	want := *before
	want.Oflag |= unix.ONLCR
	if *after != want {
		t.Errorf("termios changed beyond ONLCR:\n got %+v\nwant %+v", *after, want)
	}

	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()

	// Resize: TIOCSWINSZ rows=h cols=w, seen from the container's side.
	if err := term.Resize(24, 80); err != nil {
		t.Fatal(err)
	}
	ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 24 || ws.Col != 80 || ws.Xpixel != 0 || ws.Ypixel != 0 {
		t.Fatalf("slave window size %+v, %v; want 24 rows, 80 cols", ws, err)
	}

	// Output through the master carries \r\n, and the master is pollable
	// (a read deadline works).
	slave.Write([]byte("hi\n"))
	term.File().SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := term.File().Read(buf)
	if err != nil || string(buf[:n]) != "hi\r\n" {
		t.Fatalf("master read %q, %v; want \"hi\\r\\n\"", buf[:n], err)
	}

	term.Close()
	if err := term.Resize(1, 1); err == nil {
		t.Error("Resize after Close succeeded")
	}
}

func TestConsoleSocketDefaultsToTMPDIR(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	cs, err := NewConsoleSocket("")
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if filepath.Dir(cs.Path()) != dir {
		t.Fatalf("socket %q not in TMPDIR %q", cs.Path(), dir)
	}
}

// Only the owner may connect, whatever the umask: TMPDIR is often /tmp.
func TestConsoleSocketMode(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	cs, err := NewConsoleSocket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	fi, err := os.Lstat(cs.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o700 {
		t.Fatalf("console socket %s: mode %v, want a socket with 0700", cs.Path(), fi.Mode())
	}
}

func TestConsoleSocketErrors(t *testing.T) {
	tests := []struct {
		name string
		peer func(t *testing.T, path string) // nil: nobody connects
		want string
	}{
		{"nobody connects", nil, "Failed to accept console-socket connection"},
		{"no descriptor sent", func(t *testing.T, path string) { sendMaster(t, path, "/dev/pts/99") },
			"Failed to receive console file descriptor"},
		{"peer closes silently", func(t *testing.T, path string) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}, "Failed to receive console file descriptor"},
		{"descriptor is not a tty", func(t *testing.T, path string) {
			r, w, _ := os.Pipe()
			defer r.Close()
			defer w.Close()
			sendMaster(t, path, "pipe", int(r.Fd()))
		}, "pty master pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := testutil.OpenFds(t)
			cs, err := NewConsoleSocket(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if tt.peer != nil {
				tt.peer(t, cs.Path())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			term, err := cs.Receive(ctx)
			if err == nil {
				term.Close()
				t.Fatal("Receive succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if _, err := os.Lstat(cs.Path()); !os.IsNotExist(err) {
				t.Errorf("socket path left behind: %v", err)
			}
			if after := testutil.OpenFds(t); after != before {
				t.Errorf("descriptors: %d before, %d after", before, after)
			}
		})
	}
}

// TestConsoleSocketAfterCancel: the runtime sent the master and exited, and
// the caller cancelled (runtime gone) before Receive ran; the queued
// connection must still be taken.
func TestConsoleSocketAfterCancel(t *testing.T) {
	cs, err := NewConsoleSocket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	master, slavePath := newPty(t)
	sendMaster(t, cs.Path(), slavePath, int(master.Fd()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	term, err := cs.Receive(ctx)
	if err != nil {
		t.Fatalf("queued connection lost after cancel: %v", err)
	}
	term.Close()
}

// TestCtlResizesRealPty: a ctl resize written before the pty exists ends up
// on the container's side of the terminal once ServeWinsz(term.Resize) runs.
func TestCtlResizesRealPty(t *testing.T) {
	f, _, log := openTestFIFOs(t, true)
	writeFIFO(t, f.CtlPath(), "1 33 120\n")

	cs, err := NewConsoleSocket(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	master, slavePath := newPty(t)
	sendMaster(t, cs.Path(), slavePath, int(master.Fd()))
	term, err := cs.Receive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()

	f.ServeWinsz(term.Resize)
	testutil.Eventually(t, 5*time.Second, "pty resized", func() bool {
		ws, err := unix.IoctlGetWinsize(int(slave.Fd()), unix.TIOCGWINSZ)
		return err == nil && ws.Row == 33 && ws.Col == 120
	})
	term.Close()
	writeFIFO(t, f.WinszPath(), "10 10\n")
	testutil.Eventually(t, 5*time.Second, "resize failure logged", func() bool {
		return log.count("Failed to set process pty terminal size 10x10") == 1
	})
}
