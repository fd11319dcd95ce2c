package cio

import (
	"bytes"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
)

const (
	// ReadSize is one read. The log drivers take one timestamp per read
	// and cut lines longer than 8 KiB into pieces themselves, so a large
	// read only means fewer syscalls and fuller batches per chunk.
	ReadSize = 64 << 10
	// pipeSize is what the container's stdout and stderr pipes are grown
	// to, so that the container can write ahead while the monitor is busy
	// and each read finds more waiting.
	pipeSize = 1 << 20
)

// growPipe enlarges a pipe to pipeSize when the monitor may do so without
// cost to anyone else. Unprivileged users (rootless podman) are charged
// for pipe capacity: F_SETPIPE_SZ is refused past
// /proc/sys/fs/pipe-user-pages-soft, but before that it would eat the
// user's allowance, and once that is used up every new pipe of the user
// gets two pages only. So only a monitor with CAP_SYS_RESOURCE in the
// initial user namespace grows its pipes; a refusal leaves the default.
func growPipe(fd uintptr) {
	if mayGrowPipes() {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
	}
}

// mayGrowPipes reports whether the kernel exempts us from the pipe
// accounting: CAP_SYS_RESOURCE, and no user namespace (whose capabilities
// do not count for it).
func mayGrowPipes() bool {
	// The capability first: without it (rootless, and root here) the
	// uid_map is not read at all.
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	if data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) == 0 {
		return false
	}
	// The initial user namespace maps every id to itself. Read into a
	// buffer on the stack: os.ReadFile's heap buffers would stay resident
	// in an idle monitor (docs/memory.md).
	var buf [128]byte
	m, err := cabi.ReadFileInto("/proc/self/uid_map", buf[:])
	return err == nil && isInitialUIDMap(m)
}

// isInitialUIDMap reports whether a uid_map is the initial namespace's
// "0 0 4294967295" (columns padded with spaces, a trailing newline).
func isInitialUIDMap(m []byte) bool {
	want := [3]string{"0", "0", "4294967295"}
	i := 0
	for field := range bytes.FieldsSeq(m) {
		if i == len(want) || string(field) != want[i] {
			return false
		}
		i++
	}
	return i == len(want)
}
