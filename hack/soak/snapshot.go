package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const metricsSocket = "metrics.sock"

// memSlackKiB is how far RSS and Private_Dirty may end above their start.
const memSlackKiB = 1024

// snapshot is the before/after figures of the long-lived monitor and host.
type snapshot struct {
	fds, goroutines    int // goroutines -1: no metrics (conmon)
	rssKiB, privDirKiB int
	monitors, zombies  int           // zombies: in the soak's process tree
	hostZombies        int           // not checked: other work on the machine makes them too
	cpu                time.Duration // the monitor's own utime+stime
}

func (c *container) snapshot() (snapshot, error) {
	var s snapshot
	var err error
	if s.fds, err = countFDs(c.monPid); err != nil {
		return s, err
	}
	s.goroutines = -1
	if c.goroutine {
		if s.goroutines, err = goroutines(c.bundle); err != nil {
			return s, err
		}
	}
	if s.rssKiB, s.privDirKiB, err = memKiB(c.monPid); err != nil {
		return s, err
	}
	st, err := readStat(c.monPid)
	if err != nil {
		return s, fmt.Errorf("monitor %d: %w", c.monPid, err)
	}
	s.cpu = st.own
	s.monitors, s.zombies, s.hostZombies = hostCounts(c.monExe, c.id, os.Getpid())
	return s, nil
}

// goroutines reads shim_monitor_goroutines from <dir>/metrics.sock (§16.1),
// connecting through /proc/self/fd/N as bundle paths are long.
func goroutines(dir string) (int, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	conn, err := net.Dial("unix", "/proc/self/fd/"+strconv.Itoa(dfd)+"/"+metricsSocket)
	if err != nil {
		return 0, fmt.Errorf("connect %s/%s: %w", dir, metricsSocket, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return parseGoroutines(conn)
}

func parseGoroutines(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "shim_monitor_goroutines") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		return int(v), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	return 0, fmt.Errorf("no shim_monitor_goroutines in the metrics")
}

// violations lists the bounds that after breaks against before: fds and
// goroutines exactly back, memory at most memSlackKiB above, the
// container's monitors back to their number, no more zombies in the
// soak's process tree.
func violations(before, after snapshot) []string {
	var v []string
	if after.fds != before.fds {
		v = append(v, "fds")
	}
	if after.goroutines != before.goroutines {
		v = append(v, "goroutines")
	}
	if after.rssKiB > before.rssKiB+memSlackKiB {
		v = append(v, "rss")
	}
	if after.privDirKiB > before.privDirKiB+memSlackKiB {
		v = append(v, "private_dirty")
	}
	if after.monitors != before.monitors {
		v = append(v, "monitors")
	}
	if after.zombies > before.zombies {
		v = append(v, "zombies")
	}
	return v
}

// settle polls for up to limit until after meets the bounds against
// before (PID 1 here reaps orphaned zombies only after a second or two, and
// a monitor frees memory a moment after the load), and returns the last
// figures and the bounds still broken.
func (c *container) settle(before snapshot, limit time.Duration) (snapshot, []string, error) {
	deadline := time.Now().Add(limit)
	for {
		after, err := c.snapshot()
		if err != nil {
			return after, nil, err
		}
		v := violations(before, after)
		if len(v) == 0 || time.Now().After(deadline) {
			return after, v, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}
