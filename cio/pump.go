package cio

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// pump copies one container output fd to the sink until stopped.
type pump struct {
	f      *os.File
	stream stream.Stream
	tty    bool
	buf    []byte // one read; the exit-time drain reuses it
	raw    bool   // the fd is non-blocking: reads go out as raw syscalls
	done   chan struct{}
	stop   chan struct{}
}

const (
	// readSize is one read. The log drivers take one timestamp per read
	// and cut lines longer than 8 KiB into pieces themselves, so a large
	// read only means fewer syscalls and fuller batches per chunk.
	readSize = 64 << 10
	// pipeSize is what the container's stdout and stderr pipes are grown
	// to, so that the container can write ahead while the monitor is busy
	// and each read finds more waiting.
	pipeSize = 1 << 20
)

// errStopped ends a pump's read loop once drain or a timeout stopped it.
var errStopped = errors.New("pump stopped")

func startPump(f *os.File, stream stream.Stream, tty bool, sink func(stream.Stream, []byte)) *pump {
	p := &pump{f: f, stream: stream, tty: tty, buf: make([]byte, readSize),
		done: make(chan struct{}), stop: make(chan struct{})}
	if !tty {
		growPipe(f)
	}
	go p.run(sink)
	return p
}

// growPipe enlarges a pipe to pipeSize when the monitor may do so without
// cost to anyone else. Unprivileged users (rootless podman) are charged
// for pipe capacity: F_SETPIPE_SZ is refused past
// /proc/sys/fs/pipe-user-pages-soft, but before that it would eat the
// user's allowance, and once that is used up every new pipe of the user
// gets two pages only. So only a monitor with CAP_SYS_RESOURCE in the
// initial user namespace grows its pipes; a refusal leaves the default.
func growPipe(f *os.File) {
	if !mayGrowPipes() {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
	})
}

// mayGrowPipes reports whether the kernel exempts us from the pipe
// accounting: CAP_SYS_RESOURCE, and no user namespace (whose capabilities
// do not count for it).
func mayGrowPipes() bool {
	m, err := os.ReadFile("/proc/self/uid_map")
	if err != nil || strings.Join(strings.Fields(string(m)), " ") != "0 0 4294967295" {
		return false
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[unix.CAP_SYS_RESOURCE/32].Effective&(1<<(unix.CAP_SYS_RESOURCE%32)) != 0
}

// run reads until EOF, an error, or stop. Each wake-up of the poller reads
// until the pipe is empty (EAGAIN), handing every read to the sink.
func (p *pump) run(sink func(stream.Stream, []byte)) {
	defer close(p.done)
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		p.raw = err == nil && fl&unix.O_NONBLOCK != 0
	})
	more := func() bool {
		select {
		case <-p.stop:
			return false
		default:
			return true
		}
	}
	var rerr error
	read := func(fd uintptr) bool { // rc.Read calls it again after each wait in the poller
		rerr = p.readAvailable(int(fd), sink, more)
		return rerr != unix.EAGAIN
	}
	for {
		rerr = nil
		err := rc.Read(read)
		if err == nil {
			err = rerr
		}
		// A pty master reads EIO while no slave is open (not yet, or
		// between openers): that is not the end, look again shortly.
		if p.tty && err == unix.EIO {
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		return // EOF, stopped, the drain's deadline, or a read error
	}
}

// readAvailable reads fd until it is empty, at EOF, failing, or more says
// stop. With p.raw, the fd is non-blocking (the poller's: pipes, the pty
// master), so a read cannot block and goes out as a raw syscall, without the
// scheduler's bookkeeping; a blocking fd gets ordinary reads.
func (p *pump) readAvailable(fd int, sink func(stream.Stream, []byte), more func() bool) error {
	buf := p.buf
	for {
		var r uintptr
		var e unix.Errno
		if p.raw {
			r, _, e = unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		} else {
			r, _, e = unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		}
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			return e // EAGAIN: empty for now
		case r == 0:
			return io.EOF
		}
		sink(p.stream, buf[:r])
		if !more() {
			return errStopped
		}
	}
}

// drainLimit bounds the exit-time drain of one stream.
const drainLimit = time.Second

// halt stops the pump's goroutine and waits for it; output still in the
// pipe stays there.
func (p *pump) halt() {
	close(p.stop)
	_ = p.f.SetReadDeadline(time.Unix(1, 0))
	<-p.done
	_ = p.f.SetReadDeadline(time.Time{})
}

// drain stops the pump and then reads whatever is left without waiting for
// writers that are still alive (children of the container may hold the pipe).
// A child that outlived the container may keep writing without pause; the
// exit files must not wait for it (§11.1 "Latency"), hence drainLimit.
func (p *pump) drain(sink func(stream.Stream, []byte)) {
	p.halt()
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(drainLimit)
	more := func() bool { return time.Now().Before(deadline) }
	// Control, not Read: no waiting in the poller; a blocking fd (never
	// one of ours) is not drained, as a read could wait forever.
	if !p.raw {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = p.readAvailable(int(fd), sink, more) })
}
