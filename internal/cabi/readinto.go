package cabi

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrDoesNotFit is ReadFileInto's error for a file larger than the buffer.
var ErrDoesNotFit = errors.New("file larger than the buffer")

// ReadFileInto reads the whole of a small file (a /proc entry) into buf
// and returns the part read. Unlike os.ReadFile it allocates only the
// path's C string, nothing sized by the file: an idle monitor keeps every
// heap buffer of start-up for life, each in a size class of its own
// (docs/memory.md). A file that fills buf is refused with ErrDoesNotFit.
func ReadFileInto(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	n := 0
	for {
		if n == len(buf) {
			return nil, fmt.Errorf("read %s: %w (%d bytes)", path, ErrDoesNotFit, len(buf))
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}
