package oom

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// v1 is an eventfd the kernel signals on each OOM in a v1 memory cgroup.
type v1 struct {
	dir string
	efd int      // raw fd, non-blocking, for the final read
	f   *os.File // the same fd through the poller, for the goroutine
	lg  Logger
}

// newV1 registers an eventfd for dir's memory.oom_control. conmon exits
// when it cannot open memory.oom_control; a monitor must not, so every
// failure here is an error for the caller to warn about.
func newV1(dir string, lg Logger) (source, error) {
	ctlPath := filepath.Join(dir, "cgroup.event_control")
	ctl, err := os.OpenFile(ctlPath, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("Failed to open %s: %w", ctlPath, err)
	}
	defer ctl.Close()
	oomPath := filepath.Join(dir, "memory.oom_control")
	oomCtl, err := os.Open(oomPath)
	if err != nil {
		return nil, fmt.Errorf("Failed to open %s: %w", oomPath, err)
	}
	// The kernel takes its own reference while registering; ours can go.
	defer oomCtl.Close()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("Failed to create eventfd: %w", err)
	}
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(oomCtl.Fd()))
	if _, err := ctl.WriteString(reg); err != nil {
		unix.Close(efd)
		return nil, fmt.Errorf("Failed to write to %s: %w", ctlPath, err)
	}
	return &v1{dir: dir, efd: efd, f: os.NewFile(uintptr(efd), "oom-eventfd"), lg: lg}, nil
}

func (s *v1) run(fire func()) {
	buf := make([]byte, 8)
	for {
		n, err := s.f.Read(buf)
		if err != nil || n != 8 {
			return // interrupted, or closed
		}
		if s.event(binary.NativeEndian.Uint64(buf)) {
			fire()
			continue
		}
		return
	}
}

// event judges one eventfd count: the kernel also signals the eventfd
// once when the cgroup is removed, which is not an OOM (§11.3). It returns
// false when the cgroup is gone.
func (s *v1) event(count uint64) bool {
	if count == 1 {
		if _, err := os.Stat(filepath.Join(s.dir, "cgroup.event_control")); errors.Is(err, os.ErrNotExist) {
			s.lg.Debugf("%s", RemovedMessage)
			return false
		}
	}
	return true
}

func (s *v1) interrupt() { _ = s.f.SetReadDeadline(time.Unix(1, 0)) }

// final collects a count signalled while nobody was reading.
func (s *v1) final() bool {
	buf := make([]byte, 8)
	for {
		n, err := unix.Read(s.efd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 8 {
			return false
		}
		return s.event(binary.NativeEndian.Uint64(buf))
	}
}

func (s *v1) close() { s.f.Close() }
