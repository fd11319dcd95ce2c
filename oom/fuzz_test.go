package oom

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzMemoryEvents checks the cgroup v2 memory.events parser: the kernel's
// format built from fuzzed counters parses to exactly those counters, and
// arbitrary bytes never yield a counter that no "oom"/"oom_kill" line of
// the input holds.
func FuzzMemoryEvents(f *testing.F) {
	f.Add(int64(0), int64(0), []byte("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"))
	f.Add(int64(3), int64(2), []byte("oom x1\noom_kill 7\nmax 0x10\noom_killer 9\n"))
	f.Add(int64(1<<62), int64(-1), []byte("oom +05\noom_kill  -007 \noom 99999999999999999999\n"))
	f.Add(int64(9), int64(9), []byte("oom_kill 1\noom_kill 2\noom_kill z\r\n oom 4\noom\t5\n"))
	f.Fuzz(func(t *testing.T, oom, kill int64, garbage []byte) {
		in := fmt.Sprintf("low 0\nhigh 12\nmax 345\noom %d\noom_kill %d\noom_group_kill 0\n", oom, kill)
		c, bad := parseEvents([]byte(in))
		if !c.hasOOM || !c.hasKill || c.oom != oom || c.kill != kill || len(bad) > 0 {
			t.Fatalf("parseEvents(%q) = %+v, bad %q", in, c, bad)
		}
		checkFromInput(t, garbage)
	})
}

// FuzzOOMControl does the same for cgroup v1 memory.oom_control, where
// only oom_kill is a counter ("oom_kill_disable" and "under_oom" are not
// "oom"), and reads the file as the metrics endpoint does (killCount),
// which takes no negative count.
func FuzzOOMControl(f *testing.F) {
	f.Add(uint8(0), uint8(0), int64(0), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"))
	f.Add(uint8(1), uint8(1), int64(7), []byte("oom_kill_disable 1\nunder_oom 1\n"))
	f.Add(uint8(0), uint8(1), int64(-3), []byte("oom_kill -3\noom_kill 4x\noom -0\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, disable, under uint8, kill int64, garbage []byte) {
		in := fmt.Sprintf("oom_kill_disable %d\nunder_oom %d\noom_kill %d\n", disable%2, under%2, kill)
		c, bad := parseEvents([]byte(in))
		if c.hasOOM || !c.hasKill || c.kill != kill || len(bad) > 0 {
			t.Fatalf("parseEvents(%q) = %+v, bad %q", in, c, bad)
		}
		p := filepath.Join(dir, "memory.oom_control")
		if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		k := killCount{path: p}
		if n, ok := k.read(); ok != (kill >= 0) || (ok && n != uint64(kill)) {
			t.Fatalf("killCount of %q = %d, %v", in, n, ok)
		}
		checkFromInput(t, garbage)
	})
}

// checkFromInput parses arbitrary bytes and fails if a counter found is
// not the value of a line of the input with that key.
func checkFromInput(t *testing.T, in []byte) {
	t.Helper()
	c, _ := parseEvents(in)
	if c.hasOOM && !valueOfLine(in, "oom", c.oom) {
		t.Fatalf("parseEvents(%q): oom %d is on no \"oom\" line", in, c.oom)
	}
	if c.hasKill && !valueOfLine(in, "oom_kill", c.kill) {
		t.Fatalf("parseEvents(%q): oom_kill %d is on no \"oom_kill\" line", in, c.kill)
	}
}

// valueOfLine reports whether a line "key V" of in has n's digits as V,
// allowing white space around V, a sign and leading zeros.
func valueOfLine(in []byte, key string, n int64) bool {
	digits := strconv.FormatUint(uint64(n), 10)
	sign := "+"
	if n < 0 {
		digits, sign = strconv.FormatUint(-uint64(n), 10), "-"
	}
	for _, line := range bytes.Split(in, []byte("\n")) {
		v, ok := bytes.CutPrefix(line, []byte(key+" "))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		if s, ok := bytes.CutPrefix(v, []byte(sign)); ok {
			v = s
		} else if s, ok := bytes.CutPrefix(v, []byte("-")); ok && n == 0 {
			v = s // -0
		} else if n < 0 {
			continue
		}
		v = bytes.TrimLeft(v, "0")
		if string(v) == digits || (n == 0 && len(v) == 0) {
			return true
		}
	}
	return false
}

// FuzzParseLocation checks the streaming mount-table scan against a plain
// reading of the same text (whole table split into lines and fields), with
// a buffer smaller than most lines and with the monitor's own.
func FuzzParseLocation(f *testing.F) {
	f.Add(hybridProc, hybridMounts)
	f.Add(v2Proc, v2Mounts)
	f.Add("0::/outer/inner\n", `50 1 0:50 /outer /my\040cgroup rw - cgroup2 none rw`)
	f.Add("4:memory:/x\n", "1 2 3 4 5 6 - cgroup s memory\n\n1 2 3 / /m o x y - cgroup s rw,memory\r\n")
	f.Fuzz(func(t *testing.T, proc, mounts string) {
		want, wantErr := referenceLocation(proc, mounts)
		for _, size := range []int{16, mountinfoBuf} {
			got, err := parseLocation(proc, newLineReader(strings.NewReader(mounts), make([]byte, size)))
			if got != want || (err == nil) != (wantErr == nil) {
				t.Fatalf("buffer %d: parseLocation(%q, %q) = %+v, %v; reference %+v, %v", size, proc, mounts, got, err, want, wantErr)
			}
		}
	})
}

// referenceLocation is parseLocation done the obvious way: the whole table
// split into lines and every line into fields.
func referenceLocation(proc, mountinfo string) (Cgroup, error) {
	var v1Path, v2Path string
	v2Seen := false
	for _, line := range strings.Split(proc, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path, v2Seen = parts[2], true
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "memory") {
			v1Path = parts[2]
		}
	}
	for _, line := range strings.Split(mountinfo, "\n") {
		fs := strings.FieldsFunc(line, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
		sep := -1
		if len(fs) > 6 {
			if i := slices.Index(fs[6:], "-"); i >= 0 {
				sep = 6 + i // the separator follows the six fixed fields
			}
		}
		if sep < 0 || len(fs) < sep+4 {
			continue
		}
		m := mount{root: unescape(fs[3]), point: unescape(fs[4])}
		fstype, superOpts := fs[sep+1], fs[sep+3]
		switch {
		case v1Path != "":
			if fstype == "cgroup" && slices.Contains(strings.Split(superOpts, ","), "memory") {
				return Cgroup{V1: true, Dir: m.join(v1Path), Root: m.point}, nil
			}
		case v2Seen:
			if fstype == "cgroup2" {
				return Cgroup{Dir: m.join(v2Path), Root: m.point}, nil
			}
		default:
			return Cgroup{}, errors.New("no memory cgroup")
		}
	}
	return Cgroup{}, errors.New("not mounted")
}
