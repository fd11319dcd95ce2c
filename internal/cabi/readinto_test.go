package cabi

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadFileInto(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0 0 4294967295\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16) // one byte more than the file
	got, err := ReadFileInto(p, buf)
	if err != nil || string(got) != "0 0 4294967295\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := ReadFileInto(p, buf[:15]); !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("a file that fills the buffer: %v, want ErrDoesNotFit", err)
	}
	if _, err := ReadFileInto(filepath.Join(p, "x"), buf); !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("a path through a file: %v, want ENOTDIR", err)
	}
	// A /proc file, which reports size 0 and is read until EOF.
	self, err := ReadFileInto("/proc/self/stat", make([]byte, 4096))
	if err != nil || len(self) == 0 {
		t.Fatalf("/proc/self/stat: %q, %v", self, err)
	}
	// Only the path's C string (open(2) takes one); nothing sized by the file.
	if n := testing.AllocsPerRun(10, func() { ReadFileInto(p, buf) }); n > 1 {
		t.Fatalf("%v allocations per read, want at most 1", n)
	}
}
