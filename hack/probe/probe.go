// Package probe reads what the measuring tools in hack/ (the soak, the
// attach storm) need of a monitor: its /proc stat, its goroutine count from
// the metrics socket (docs/interface.md §16.1), and the address of an attach
// socket whose path may be too long for a socket address.
package probe

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// clkTck is sysconf(_SC_CLK_TCK) on Linux: the unit of /proc/PID/stat times.
const clkTck = 100

// Stat is what the tools read from /proc/PID/stat.
type Stat struct {
	Comm     string
	State    byte
	PPid     int
	Own      time.Duration // utime+stime: the process itself
	Children time.Duration // cutime+cstime: the children it has reaped
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(raw)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// ParseStat parses the content of a /proc/PID/stat file.
func ParseStat(raw []byte) (Stat, error) {
	// comm may hold spaces and parentheses: it ends at the last ')'.
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open || end+2 > len(raw) || raw[end+1] != ' ' {
		return Stat{}, fmt.Errorf("cannot parse %q", raw)
	}
	f := strings.Fields(string(raw[end+2:]))
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("%d fields in %q", len(f)+2, raw)
	}
	var n [5]int64
	for i, idx := range []int{1, 11, 12, 13, 14} {
		v, err := strconv.ParseInt(f[idx], 10, 64)
		if err != nil || v < 0 {
			return Stat{}, fmt.Errorf("field %d: %q", idx+3, f[idx])
		}
		n[i] = v
	}
	return Stat{
		Comm:     string(raw[open+1 : end]),
		State:    f[0][0],
		PPid:     int(n[0]),
		Own:      ticks(n[1] + n[2]),
		Children: ticks(n[3] + n[4]),
	}, nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * (time.Second / clkTck) }

// MetricsSocket is the monitor's metrics socket in its bundle (§16.1).
const MetricsSocket = "metrics.sock"

// Goroutines reads shim_monitor_goroutines from <dir>/metrics.sock,
// connecting through /proc/self/fd/N as bundle paths are long.
func Goroutines(dir string) (int, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	conn, err := net.Dial("unix", "/proc/self/fd/"+strconv.Itoa(dfd)+"/"+MetricsSocket)
	if err != nil {
		return 0, fmt.Errorf("connect %s/%s: %w", dir, MetricsSocket, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return ParseGoroutines(conn)
}

// ParseGoroutines finds the shim_monitor_goroutines sample in a scrape.
func ParseGoroutines(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "shim_monitor_goroutines") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseUint(f[len(f)-1], 10, 31)
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

// AttachAddr is the address of the attach socket sock (or <sock>/attach
// when sock is a directory). A path too long for a socket address goes
// through an O_PATH fd of its directory, which closeDir releases.
func AttachAddr(sock string) (addr *unix.SockaddrUnix, closeDir func(), err error) {
	if st, err := os.Stat(sock); err == nil && st.IsDir() {
		sock = filepath.Join(sock, "attach")
	}
	if len(sock) < 108 {
		return &unix.SockaddrUnix{Name: sock}, func() {}, nil
	}
	dfd, err := unix.Open(filepath.Dir(sock), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", filepath.Dir(sock), err)
	}
	name := "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + filepath.Base(sock)
	return &unix.SockaddrUnix{Name: name}, func() { unix.Close(dfd) }, nil
}
