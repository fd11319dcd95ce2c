package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// newID returns a fresh container ID of this run's (runPrefix), longer
// than 12 characters (journald).
func newID() string { return runPrefix + randHex(12) }

// randHex returns n random bytes in hex.
func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// procStat is what the tests need from /proc/PID/stat.
type procStat struct {
	State   byte
	PPID    int
	Session int
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// pid (comm) state ppid pgrp session ...; comm may contain spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("bad /proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return procStat{}, fmt.Errorf("bad /proc/%d/stat: %q", pid, b)
	}
	ppid, _ := strconv.Atoi(f[1])
	sid, _ := strconv.Atoi(f[3])
	return procStat{State: f[0][0], PPID: ppid, Session: sid}, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// waitGone waits until pid has exited (zombies count as exited).
func waitGone(t *testing.T, pid int, timeout time.Duration, what string) {
	t.Helper()
	testutil.Eventually(t, timeout, fmt.Sprintf("%s (pid %d) to exit", what, pid), func() bool { return !alive(pid) })
}

// exeOf returns the target of /proc/PID/exe.
func exeOf(pid int) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return s
}

// checkIsMonitor fails unless pid is alive and runs the binary under test.
func checkIsMonitor(t *testing.T, pid int) {
	t.Helper()
	checkMonitorExe(t, pid, shimBin)
}

// checkMonitorExe fails unless pid is alive and runs the binary mon.
func checkMonitorExe(t *testing.T, pid int, mon string) {
	t.Helper()
	if !alive(pid) {
		t.Fatalf("monitor pid %d is not alive", pid)
	}
	if exe := exeOf(pid); !sameFile(exe, mon) {
		t.Fatalf("/proc/%d/exe = %q, want the monitor under test %s", pid, exe, mon)
	}
}

// readExactInt reads a file holding one decimal number and nothing else.
func readExactInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("%s holds %q, want a decimal number with no newline or spaces", path, b)
	}
	return n
}

// runCmd runs a command with a timeout and returns stdout, stderr, exit code.
func runCmd(t *testing.T, timeout time.Duration, env []string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = env
	}
	r := runTimeout(t, timeout, cmd)
	return r.Stdout, r.Stderr, r.Code
}

// runTimeout runs cmd, killing it after timeout (which fails the test), and
// returns its output and exit code.
func runTimeout(t *testing.T, timeout time.Duration, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s: timed out after %v\nstdout: %s\nstderr: %s", cmd, timeout, stdout.String(), stderr.String())
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", cmd, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

// logEntry is one k8s-file line: "<TS> <stream> <F|P> <content>\n".
type logEntry struct {
	Time    time.Time
	Stream  string
	Tag     string
	Content string // without the entry's terminating '\n' for P; with it for F
}

// logLineRe: the timestamp of docs/interface.md §10.2: 9 fraction digits and a numeric offset.
var logLineRe = regexp.MustCompile(`(?s)^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}[+-]\d{2}:\d{2}) (stdout|stderr) ([FP]) (.*)$`)

// parseLog parses a k8s-file log strictly; any malformed line fails the test.
func parseLog(t *testing.T, path string) []logEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: ...%q", path, tail(b, 80))
	}
	var out []logEntry
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		m := logLineRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: malformed k8s-file line %q", path, head(line, 200))
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000000000Z07:00", m[1])
		if err != nil {
			t.Fatalf("%s: timestamp %q: %v", path, m[1], err)
		}
		e := logEntry{Time: ts, Stream: m[2], Tag: m[3], Content: m[4]}
		if e.Tag == "P" {
			e.Content = strings.TrimSuffix(e.Content, "\n")
		}
		out = append(out, e)
	}
	return out
}

// short renders log entries without timestamps, one per line, for diffs.
func short(es []logEntry) []string {
	var s []string
	for _, e := range es {
		c := e.Content
		if e.Tag == "P" {
			c += "\n"
		}
		s = append(s, e.Stream+" "+e.Tag+" "+c)
	}
	return s
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// fileMode returns the permission bits of path.
func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
