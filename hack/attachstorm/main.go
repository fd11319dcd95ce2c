// Command attachstorm connects to a monitor's attach socket many times and
// reports what that cost the monitor. hack/bench-attach-storm.sh runs it
// against shim and conmon side by side; soak scripts can run it too.
//
//	attachstorm [-n 10000] [-c 1] [-hold] [-pid PID] [-metrics DIR] [-settle 2s] SOCKET
//
// SOCKET is the attach socket (<bundle>/attach) or the directory holding it;
// a path longer than sun_path is reached through /proc/self/fd/N/ as podman
// does. Each connection is closed as soon as it is made, or with -hold only
// once all n are open (the monitor must then hold them all at once: mind its
// RLIMIT_NOFILE). Nothing is sent or read. A connect the monitor does not
// accept within -timeout ends the storm (a monitor at its fd limit may
// never accept again); the figures are still printed, with the count made.
//
// With -pid the monitor is sampled from /proc/PID before the storm, every
// 10 ms during it (peak RSS), and -settle after it, and one line of
// key=value pairs is printed: wall time, CPU seconds (utime+stime), RSS in
// KiB (before, peak, after), open fds and threads (before, after) and, with
// -metrics (a shim monitor's bundle with SHIM_METRICS=1), its goroutines
// from metrics.sock. The exit status is 0 unless the storm itself failed.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/hack/probe"
)

func main() {
	n := flag.Int("n", 10000, "connections to make")
	conc := flag.Int("c", 1, "connecting goroutines")
	hold := flag.Bool("hold", false, "keep every connection open until all are made")
	pid := flag.Int("pid", 0, "the monitor's pid, to report its CPU, RSS, fds and threads")
	metricsDir := flag.String("metrics", "", "directory with the monitor's metrics.sock, for its goroutine count")
	settle := flag.Duration("settle", 2*time.Second, "wait after the storm before the 'after' figures")
	timeout := flag.Duration("timeout", 5*time.Second, "give up when one connect waits this long (a monitor that stopped accepting)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] SOCKET\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *n < 0 || *conc < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *n, *conc, *hold, *pid, *metricsDir, *settle, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "attachstorm: %v\n", err)
		os.Exit(1)
	}
}

func run(sock string, n, conc int, hold bool, pid int, metricsDir string, settle, timeout time.Duration) error {
	raiseNofile()
	addr, closeDir, err := probe.AttachAddr(sock)
	if err != nil {
		return err
	}
	defer closeDir()

	var before, after sample
	if pid > 0 {
		if before, err = readSample(pid, metricsDir); err != nil {
			return err
		}
	}
	peak := watchPeak(pid)
	start := time.Now()
	made, stormErr := storm(addr, n, conc, hold, timeout)
	wall := time.Since(start)
	peakKiB := peak()
	if pid <= 0 {
		fmt.Printf("connections=%d wall_s=%.3f\n", made, wall.Seconds())
		return stormErr
	}
	time.Sleep(settle)
	if after, err = readSample(pid, metricsDir); err != nil {
		return errors.Join(stormErr, err)
	}
	fmt.Printf("connections=%d wall_s=%.3f cpu_s=%.2f rss_kib_before=%d rss_kib_peak=%d rss_kib_after=%d"+
		" fds_before=%d fds_after=%d threads_before=%d threads_after=%d goroutines_before=%s goroutines_after=%s\n",
		made, wall.Seconds(), (after.cpu - before.cpu).Seconds(),
		before.rssKiB, max(peakKiB, before.rssKiB, after.rssKiB), after.rssKiB,
		before.fds, after.fds, before.threads, after.threads, before.goroutines, after.goroutines)
	return stormErr
}

// storm makes n connections from conc goroutines; each is closed at once,
// or with hold once all are made. It returns how many were made.
func storm(addr *unix.SockaddrUnix, n, conc int, hold bool, timeout time.Duration) (int, error) {
	var next, made atomic.Int64
	var mu sync.Mutex
	var held []int
	var firstErr error
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				fd, err := dial(addr, timeout)
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, err)
					mu.Unlock()
					return
				}
				made.Add(1)
				if !hold {
					unix.Close(fd)
					continue
				}
				mu.Lock()
				held = append(held, fd)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, fd := range held {
		unix.Close(fd)
	}
	return int(made.Load()), firstErr
}

// dial connects; a connect that waits longer than timeout for the monitor
// to accept (the backlog is full) fails with EAGAIN (SO_SNDTIMEO).
func dial(addr *unix.SockaddrUnix, timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set connect timeout: %w", err)
	}
	for {
		err = unix.Connect(fd, addr)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EAGAIN) {
		err = fmt.Errorf("not accepted within %v (%w)", timeout, err)
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("connect %s: %w", addr.Name, err)
	}
	return fd, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// raiseNofile lifts the soft fd limit to the hard one, for -hold.
func raiseNofile() {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
}

type sample struct {
	cpu        time.Duration // utime+stime
	rssKiB     int64
	fds        int
	threads    int
	goroutines string // "-" without -metrics
}

func readSample(pid int, metricsDir string) (sample, error) {
	var s sample
	var err error
	st, err := probe.ReadStat(pid)
	if err != nil {
		return s, err
	}
	s.cpu = st.Own
	if s.rssKiB, s.threads, err = status(pid); err != nil {
		return s, err
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return s, fmt.Errorf("list fds of %d: %w", pid, err)
	}
	s.fds = len(ents)
	s.goroutines = "-"
	if metricsDir != "" {
		// After the /proc figures: the scrape itself costs the monitor a little.
		g, err := probe.Goroutines(metricsDir)
		if err != nil {
			return s, err
		}
		s.goroutines = strconv.Itoa(g)
	}
	return s, nil
}

// status returns VmRSS (KiB) and Threads from /proc/PID/status.
func status(pid int) (rss int64, threads int, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rss, _ = strconv.ParseInt(fields[0], 10, 64)
		case "Threads":
			threads, _ = strconv.Atoi(fields[0])
		}
	}
	return rss, threads, sc.Err()
}

// watchPeak samples the monitor's RSS every 10 ms until the returned
// function is called, which returns the highest figure seen.
func watchPeak(pid int) func() int64 {
	if pid <= 0 {
		return func() int64 { return 0 }
	}
	stop := make(chan struct{})
	done := make(chan int64)
	go func() {
		var peak int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := status(pid); err == nil {
				peak = max(peak, rss)
			}
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(stop); return <-done }
}
