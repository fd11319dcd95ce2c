package oci

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"
)

// PidFileError is a failure to read the runtime's pidfile. Its text is
// GLib's g_file_get_contents message, which conmon HEAD sends as the sync
// message when the runtime left no stderr (§5.2), e.g.
//
//	Failed to open file “/run/x/pidfile”: No such file or directory
//
// It unwraps to the errno, so errors.Is(err, fs.ErrNotExist) tells a
// missing pidfile (the runtime failed) from other trouble.
type PidFileError struct {
	Path string
	*cabi.TextError
}

// errNotRegular: the pidfile's name holds a FIFO, socket or device.
var errNotRegular = errors.New("not a regular file")

// pidFileError words err as GLib does: what ("Failed to open file") “path”: strerror.
func pidFileError(what, path string, err error) error {
	return &PidFileError{Path: path, TextError: cabi.NewError(what+" “"+path+"”: "+strerror.Text(err), err)}
}

// ReadPidFile returns the pid in path parsed like C atoi, as conmon HEAD
// does (§6.3): leading white space and a sign are accepted, parsing stops at
// the first non-digit (a trailing newline or junk is ignored), and a file
// with no digits gives 0. Whether 0 or a negative pid is a failure is the
// caller's decision (§5.2 "Implement": pid <= 0 is one).
//
// The runtime replaces the pidfile by rename, so it is never a symlink or
// a FIFO unless someone who can write its directory swapped it: a symlink
// is not followed (it could name another daemon's pidfile, and the monitor
// would watch that process), and a FIFO, socket or device neither blocks
// the open (O_NONBLOCK) nor is read. conmon reads either.
func ReadPidFile(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, pidFileError("Failed to open file", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, pidFileError("Failed to read from file", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR: // a directory fails at read(2), as in GLib
	default:
		return 0, pidFileError("Failed to open file", path, errNotRegular)
	}
	// The whole file, as g_file_get_contents reads it: atoi skips any
	// amount of leading white space.
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, pidFileError("Failed to read from file", path, err)
	}
	return Atoi(string(b)), nil
}

// Atoi is C atoi: (int)strtol(s, NULL, 10). Out-of-range values saturate
// to the 64-bit long limits and are then truncated to 32 bits, as the
// conversion to int does on Linux.
func Atoi(s string) int {
	v, _, _ := strtol10(s)
	return int(int32(v))
}
