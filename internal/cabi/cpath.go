package cabi

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// CPath is a path converted once to the kernel's NUL-terminated form.
// golang.org/x/sys/unix copies a string path onto the heap at every call;
// a path used again and again (the log's temporary name, at every ctl
// reopen) would make garbage whose first collection costs an idle monitor
// some 300 KiB for good (docs/memory.md). These calls allocate nothing.
type CPath struct {
	s string
	b []byte // s + NUL
}

// NewCPath converts s; it fails if s holds a NUL byte.
func NewCPath(s string) (CPath, error) {
	b, err := unix.ByteSliceFromString(s)
	if err != nil {
		return CPath{}, err
	}
	return CPath{s: s, b: b}, nil
}

// String is the path.
func (p CPath) String() string { return p.s }

func (p CPath) ptr() unsafe.Pointer { return unsafe.Pointer(&p.b[0]) }

// atFdcwd is AT_FDCWD (-100) as a syscall argument.
var atFdcwd = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// Unlink is unlink(2).
func (p CPath) Unlink() error {
	_, _, e := unix.Syscall(unix.SYS_UNLINKAT, atFdcwd, uintptr(p.ptr()), 0)
	return errnoErr(e)
}

// Open is open(2), retried on EINTR.
func (p CPath) Open(flags int, mode uint32) (int, error) {
	for {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, atFdcwd, uintptr(p.ptr()), uintptr(flags), uintptr(mode), 0, 0)
		if e != unix.EINTR {
			if e != 0 {
				return -1, e
			}
			return int(fd), nil
		}
	}
}

// RenameTo is rename(2) of p to to.
func (p CPath) RenameTo(to CPath) error {
	_, _, e := unix.Syscall6(unix.SYS_RENAMEAT, atFdcwd, uintptr(p.ptr()), atFdcwd, uintptr(to.ptr()), 0, 0)
	return errnoErr(e)
}
