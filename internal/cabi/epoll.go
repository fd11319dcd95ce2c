package cabi

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// EpollReady fills events with what the epoll instance epfd has ready, in
// the order the fds became ready, without waiting, and returns how many; -1
// if epoll failed. An epoll fd whose own readiness is watched by Go's
// netpoller is waited on there; this is the non-blocking look after each
// wake-up, so it cannot block and goes out as a raw syscall, without the
// scheduler's bookkeeping. events must not be empty.
func EpollReady(epfd int, events []unix.EpollEvent) int {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r)
		case unix.EINTR:
		default:
			return -1
		}
	}
}
