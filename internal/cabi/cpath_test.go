package cabi

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCPath(t *testing.T) {
	dir := t.TempDir()
	a, err := NewCPath(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewCPath(filepath.Join(dir, "b"))
	if _, err := NewCPath("x\x00y"); err == nil {
		t.Fatal("a NUL in a path was accepted")
	}
	allocs := testing.AllocsPerRun(100, func() {
		fd, err := a.Open(unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		if err := a.RenameTo(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Unlink(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per open, rename and unlink", allocs)
	}
	if err := a.Unlink(); !errors.Is(err, unix.ENOENT) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unlink of a missing file: %v", err)
	}
	if _, err := a.Open(unix.O_RDONLY, 0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("open of a missing file: %v", err)
	}
	if a.String() != filepath.Join(dir, "a") {
		t.Errorf("String %q", a.String())
	}
}
