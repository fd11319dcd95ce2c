package testutil

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// AttachSessions connects n times to the attach socket in dir (through
// /proc/self/fd, so that a long directory name does not matter), takes what
// output comes for a moment and hangs up: the attach side of the monitor's
// after-work memory figure (hack/bench-mem.sh, integration/memory_test.go).
func AttachSessions(dir string, n int) error {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	addr := &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/attach", Net: "unixpacket"}
	buf := make([]byte, 64<<10)
	for i := range n {
		c, err := dialWaiting(addr)
		if err != nil {
			return fmt.Errorf("attach session %d: connect %s/attach: %w", i, dir, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
	return nil
}

// dialWaiting connects, waiting while the listen backlog is full (EAGAIN):
// a monitor accepts between its other work, and these sessions come faster
// than engines open them.
func dialWaiting(addr *net.UnixAddr) (*net.UnixConn, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialUnix("unixpacket", nil, addr)
		if err == nil || !errors.Is(err, unix.EAGAIN) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(time.Millisecond)
	}
}

// CtlMessages writes n messages to the ctl FIFO at path: "1 rows cols"
// (resize) and "2" (reopen the log), alternately.
func CtlMessages(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	for i := range n {
		msg := "2\n"
		if i%2 == 0 {
			msg = fmt.Sprintf("1 %d %d\n", 24+i%40, 80+i%60)
		}
		if _, err := f.WriteString(msg); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
