package cabi

import "golang.org/x/sys/unix"

// ReadStartPipe waits for the engine's go-ahead on the start pipe fd (§5.3):
// one read(2) of up to 8192 bytes, as conmon does, retried on EINTR. Any
// data or EOF means go. The error text is conmon's.
func ReadStartPipe(fd int) error {
	var buf [8192]byte
	for {
		_, err := unix.Read(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Errno("start-pipe read failed", err)
		}
		return nil
	}
}
