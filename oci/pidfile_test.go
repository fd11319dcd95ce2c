package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{
		"":                      0,
		"1234":                  1234,
		"1234\n":                1234,
		"  \t\n\v\f\r42":        42,
		"+7":                    7,
		"-3":                    -3,
		"12abc":                 12,
		"abc":                   0,
		"- 5":                   0,
		"+-5":                   0,
		"0x10":                  0,
		"007":                   7,
		"12\x0034":              12,
		"2147483647":            2147483647,
		"2147483648":            -2147483648, // long fits, int truncates
		"4294967298":            2,
		"9223372036854775807":   -1,
		"99999999999999999999":  -1, // LONG_MAX truncated to int
		"-99999999999999999999": 0,  // LONG_MIN truncated to int
		"\u00a0 5":              0,  // only C-locale white space is skipped
	} {
		if got := Atoi(in); got != want {
			t.Errorf("Atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestReadPidFile(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{
		"4321":                           4321,
		"4321\n":                         4321,
		"\n  4321 junk\n":                4321,
		"":                               0,
		"\n":                             0,
		strings.Repeat(" ", 5000) + "99": 99, // the whole file is read
	} {
		p := filepath.Join(dir, "pidfile")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPidFile(p)
		if err != nil || got != want {
			t.Errorf("ReadPidFile(%q) = %d, %v; want %d", content, got, err, want)
		}
	}
}

func TestReadPidFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "exec_pid")
	_, err := ReadPidFile(p)
	want := "Failed to open file “" + p + "”: No such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("missing pidfile error does not unwrap to fs.ErrNotExist")
	}
	var pe *PidFileError
	if !errors.As(err, &pe) || pe.Path != p {
		t.Errorf("error is not a *PidFileError for %s: %#v", p, err)
	}
}

func TestReadPidFileUnreadable(t *testing.T) {
	dir := t.TempDir() // reading a directory fails at read(2), not open(2)
	_, err := ReadPidFile(dir)
	want := "Failed to read from file “" + dir + "”: Is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("a read error looks like a missing file")
	}
}

// TestReadPidFilePlanted: a symlink at the pidfile's name is not followed
// (a victim's pid is not taken for the container's), and a FIFO with no
// writer does not block the read.
func TestReadPidFilePlanted(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "other.pid")
	if err := os.WriteFile(victim, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link, fifo := filepath.Join(dir, "link"), filepath.Join(dir, "fifo")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		link: "Failed to open file “" + link + "”: Too many levels of symbolic links",
		fifo: "Failed to open file “" + fifo + "”: not a regular file",
	} {
		done := make(chan error, 1)
		go func() {
			pid, err := ReadPidFile(path)
			if err == nil {
				err = fmt.Errorf("pid %d", pid)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err.Error() != want {
				t.Errorf("ReadPidFile(%s) = %v, want %q", filepath.Base(path), err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadPidFile(%s) blocked", filepath.Base(path))
		}
	}
}

func TestReadPidFileNoFDLeak(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pidfile")
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := testutil.OpenFds(t)
	for range 50 {
		_, _ = ReadPidFile(p)
		_, _ = ReadPidFile(dir)
		_, _ = ReadPidFile(filepath.Join(dir, "missing"))
	}
	if after := testutil.OpenFds(t); after != before {
		t.Errorf("open fds went from %d to %d", before, after)
	}
}
