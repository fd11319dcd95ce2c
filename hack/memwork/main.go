// Command memwork puts a running container's monitor through the attach
// and control work of hack/bench-mem.sh's after-work figure: N attach
// sessions (connect, take what output comes for a moment, hang up) and N
// control messages (alternately a resize and a log reopen), given the
// directory that holds the monitor's attach socket and ctl FIFO (podman:
// the container's userdata directory).
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	dir := flag.String("dir", "", "directory with the attach socket and the ctl FIFO")
	sessions := flag.Int("sessions", 1000, "attach sessions")
	ctl := flag.Int("ctl", 1000, "control messages")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "memwork: -dir is required")
		os.Exit(2)
	}
	if err := attachSessions(*dir, *sessions); err != nil {
		fmt.Fprintln(os.Stderr, "memwork:", err)
		os.Exit(1)
	}
	if err := ctlMessages(filepath.Join(*dir, "ctl"), *ctl); err != nil {
		fmt.Fprintln(os.Stderr, "memwork:", err)
		os.Exit(1)
	}
}

// attachSessions connects n times, through /proc/self/fd so that a long
// directory name does not matter, and reads for a moment each time.
func attachSessions(dir string, n int) error {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	addr := &net.UnixAddr{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/attach", Net: "unixpacket"}
	buf := make([]byte, 64<<10)
	for i := range n {
		c, err := dial(addr)
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

// dial connects, waiting while the listen backlog is full (EAGAIN): a
// monitor accepts between its other work, and these sessions come faster
// than engines open them.
func dial(addr *net.UnixAddr) (*net.UnixConn, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialUnix("unixpacket", nil, addr)
		if err == nil || !errors.Is(err, unix.EAGAIN) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(time.Millisecond)
	}
}

// ctlMessages writes n messages to the ctl FIFO: "1 rows cols" (resize)
// and "2" (reopen the log), alternately.
func ctlMessages(path string, n int) error {
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
