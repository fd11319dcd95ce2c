package cio

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// openPty returns a non-blocking pty master (as the console socket hands it
// over) and its slave's path.
func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	m := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { m.Close() })
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

func writeSlave(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestPollerPtyWithoutSlave: a pty master reads EIO (and reports a hang-up)
// while no slave is open. That is not the end: the poller looks again every
// ptyRetry, without spinning, and reads what the next opener writes.
func TestPollerPtyWithoutSlave(t *testing.T) {
	m, slave := openPty(t)
	c := &collector{}
	p := newPoller(t, c.sink)
	add(t, p, m, stream.Stdout, true)
	p.Start()
	writeSlave(t, slave, "first\n")
	testutil.Eventually(t, 10*time.Second, "the first opener's output", func() bool { return strings.Contains(c.data0(), "first") })
	var ru0, ru1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	const idle = time.Second
	time.Sleep(idle)
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	writeSlave(t, slave, "second\n")
	testutil.Eventually(t, 10*time.Second, "the second opener's output", func() bool { return strings.Contains(c.data0(), "second") })
	select {
	case <-p.Done():
		t.Fatal("poller ended at the pty's EIO")
	default:
	}
	p.Halt()
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	t.Logf("%d parks, %v CPU in %v without a slave", p.parks, cpu, idle)
	if max := int(2*idle/ptyRetry) + 4; p.parks > max {
		t.Errorf("parked %d times in %v, want at most %d (one per %v)", p.parks, idle, max, ptyRetry)
	}
	if cpu > idle/5 {
		t.Errorf("%v CPU in %v without a slave: a busy loop", cpu, idle)
	}
	// Drain does not wait for a slave that will not come.
	t0 := time.Now()
	p.Drain(20 * time.Second)
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("Drain took %v on a pty without a slave", d)
	}
}
