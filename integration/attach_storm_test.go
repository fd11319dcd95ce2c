package integration

// A connection storm on one idle container's attach socket (issue 11): with
// a reader and a writer goroutine per client and a hang-up noticed only when
// a write failed, 10,000 connect-and-close left 10,000 goroutines, their fds
// and ~90 MB of RSS behind for minutes. Now the monitor's fds, goroutines and
// RSS come back to where they were, whether the clients come one at a time
// (they are reused) or all at once (the memory is given back after them). The cost in CPU, side by side with
// conmon, is measured by hack/bench-attach-storm.sh, not here.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vmRSSKiB reads VmRSS from /proc/PID/status.
func vmRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of monitor %d: %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS of %d: %q", pid, line)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS for monitor %d", pid)
	return 0
}

func openFdsOf(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("list fds of monitor %d: %v", pid, err)
	}
	return len(ents)
}

// TestAttachStormLeavesNothing: 5000 connect-and-close one at a time, then
// 2000 connections held open at once and closed; after each, the monitor's
// fds, clients and goroutines are back where they were and its RSS within
// 1 MiB of it.
func TestAttachStormLeavesNothing(t *testing.T) {
	if isRef {
		t.Skip("conmon keeps the fds of clients that have closed (and has no metrics socket)")
	}
	t.Setenv("SHIM_METRICS", "1")
	r := startMon(t, monOpts{Args: []string{"sleep", "1000"}}).run()
	dfd, err := unix.Open(r.Bundle, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/attach", dfd)}
	total := 0
	for _, phase := range []struct {
		n    int
		hold bool
	}{{5000, false}, {2000, true}} {
		total += phase.n
		t.Run(fmt.Sprintf("n=%d,hold=%v", phase.n, phase.hold), func(t *testing.T) {
			checkStorm(t, r, addr, phase.n, phase.hold, total)
		})
	}
}

func checkStorm(t *testing.T, r *monRun, addr *unix.SockaddrUnix, n int, hold bool, total int) {
	pid := r.Daemon
	goroutines := func() float64 {
		v, ok := sample(scrapeMonitor(t, r.Bundle), "shim_monitor_goroutines")
		if !ok {
			t.Fatal("no shim_monitor_goroutines")
		}
		return v
	}
	// A scrape allocates in the monitor, so RSS is read after one (and the
	// few after the storm stay well within the bound).
	startGoroutines := goroutines()
	time.Sleep(200 * time.Millisecond)
	startFds, startRSS := openFdsOf(t, pid), vmRSSKiB(t, pid)

	var held []int
	peakFds := 0
	for i := range n {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Connect(fd, addr); err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		if hold {
			held = append(held, fd)
		} else {
			unix.Close(fd)
		}
		if i%500 == 0 {
			peakFds = max(peakFds, openFdsOf(t, pid))
		}
	}
	for _, fd := range held {
		unix.Close(fd)
	}

	// Every connection accepted (the last ones may still wait in the
	// backlog, which holds no fd of the monitor's) and dropped.
	var accepted, clients float64
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		fams := scrapeMonitor(t, r.Bundle)
		accepted, _ = sample(fams, "shim_attach_clients_total")
		clients, _ = sample(fams, "shim_attach_clients")
		if accepted == float64(total) && clients == 0 || time.Now().After(end) {
			break
		}
	}
	if accepted != float64(total) || clients != 0 {
		t.Errorf("shim_attach_clients_total = %v (want %d), shim_attach_clients = %v (want 0)", accepted, total, clients)
	}
	deadline := time.Now().Add(10 * time.Second)
	var fds, rss int
	for {
		fds, rss = openFdsOf(t, pid), vmRSSKiB(t, pid)
		if fds == startFds && rss <= startRSS+1024 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d connect+close: fds %d -> %d (seen up to %d), VmRSS %d -> %d KiB",
		n, startFds, fds, peakFds, startRSS, rss)
	if fds != startFds {
		t.Errorf("monitor has %d fds open after the storm, %d before", fds, startFds)
	}
	if rss > startRSS+1024 {
		t.Errorf("monitor VmRSS %d KiB after the storm, %d before: more than 1 MiB kept", rss, startRSS)
	}
	var g float64
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if g = goroutines(); g == startGoroutines || time.Now().After(end) {
			break
		}
	}
	if g != startGoroutines {
		t.Errorf("monitor has %v goroutines after the storm, %v before", g, startGoroutines)
	}
}
