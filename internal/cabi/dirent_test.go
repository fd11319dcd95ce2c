package cabi

import (
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirentFdListsProcSelfFd decodes a real getdents64 listing of
// /proc/self/fd, through a buffer that holds only a few records per call,
// and compares it with os.ReadDir's.
func TestDirentFdListsProcSelfFd(t *testing.T) {
	extra, err := os.Open("/dev/null") // at least one fd above stdio
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	var got []int
	dots := 0
	buf := make([]byte, 64)
	for {
		n, err := unix.Getdents(dir, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		for rec := buf[:n]; len(rec) > 0; {
			fd, next, ok := DirentFd(rec)
			if !ok {
				t.Fatalf("record not whole: %q", rec)
			}
			if fd < 0 {
				dots++
			} else {
				got = append(got, fd)
			}
			rec = next
		}
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, n)
	}
	// Our own directory fd and os.ReadDir's differ by number: compare
	// without them.
	drop := func(s []int, fds ...int) []int {
		return slices.DeleteFunc(slices.Clone(s), func(x int) bool { return slices.Contains(fds, x) })
	}
	slices.Sort(got)
	slices.Sort(want)
	if dots != 2 || !slices.Contains(got, int(extra.Fd())) || !slices.Contains(got, dir) {
		t.Fatalf("got %v (%d dot entries), want %d and %d among them and 2 dots", got, dots, extra.Fd(), dir)
	}
	if g, w := drop(got, dir), drop(want, dir); len(g) < len(w)-1 || len(g) > len(w) {
		t.Fatalf("getdents listing %v, os.ReadDir %v", got, want)
	}
}

// record builds one linux_dirent64 record for name, padded to 8 bytes.
func record(name string) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint16(b[16:18], uint16(n))
	copy(b[19:], name)
	return b
}

func TestDirentFdNames(t *testing.T) {
	for name, want := range map[string]int{
		"0": 0, "17": 17, "999999999": 999999999, ".": -1, "..": -1, "1a": -1,
		"1234567890": -1, // longer than any fd number: not parsed
	} {
		fd, rest, ok := DirentFd(record(name))
		if !ok || fd != want || len(rest) != 0 {
			t.Errorf("%q: got %d, %d bytes left, %v; want %d", name, fd, len(rest), ok, want)
		}
	}
	for _, bad := range [][]byte{nil, make([]byte, 18), record("5")[:20]} {
		if _, _, ok := DirentFd(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzDirentFd: any bytes are refused or consumed by a whole record; the
// number found is the record's name when that is all digits.
func FuzzDirentFd(f *testing.F) {
	f.Add(record("3"))
	f.Add(append(record("."), record("12")...))
	f.Add([]byte("not a record at all, just text......"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, rest, ok := DirentFd(b)
		if !ok {
			return
		}
		used := len(b) - len(rest)
		if used < 20 || used > len(b) {
			t.Fatalf("record of %d bytes out of %d", used, len(b))
		}
		name := string(b[19:used])
		for i := range len(name) {
			if name[i] == 0 {
				name = name[:i]
				break
			}
		}
		want := -1
		digits := name != "" && strings.Trim(name, "0123456789") == ""
		if n, err := strconv.Atoi(name); err == nil && digits && len(name) <= 9 {
			want = n
		}
		if fd != want {
			t.Fatalf("name %q: fd %d, want %d", name, fd, want)
		}
	})
}
