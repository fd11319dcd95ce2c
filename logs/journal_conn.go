package logs

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendWait bounds one blocking send (SO_SNDTIMEO); see journalConn.
const sendWait = 10 * time.Millisecond

// journalConn is the datagram socket to journald. Like sd_journal_sendv's
// it is unconnected and names the address on every send, so a restarted
// journald (a new socket at the same path) is picked up without more ado,
// and a send blocks while journald's receive queue is full
// (net.unix.max_dgram_qlen datagrams): output is never dropped for speed.
//
// The send is a raw syscall. Through the runtime's syscall path, a send
// that sleeps in the kernel, which is every send while journald is the
// bottleneck, has the scheduler hand the monitor's only P to another thread
// and keeps sysmon polling every 20 µs: it doubled the monitor's CPU per
// entry. A raw send keeps the P, so SO_SNDTIMEO bounds each wait to
// sendWait, after which (or after a signal) the loop yields to the other
// goroutines (signals, attach input, ctl) and sends again.
type journalConn struct {
	fd      int
	bounded bool              // SO_SNDTIMEO is set: raw sends; else ordinary ones
	addr    unix.SockaddrUnix // for the memfd path (sendmsg)
	raw     unix.RawSockaddrUnix
	rawLen  uintptr
	retries atomic.Int64 // sends that waited out sendWait or a signal (tests look)
}

func newJournalConn(path string) (*journalConn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	// Best effort, as in sd_journal_sendv: the kernel caps it at wmem_max.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBufSize)
	tv := unix.NsecToTimeval(int64(sendWait))
	bounded := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv) == nil
	c := &journalConn{fd: fd, bounded: bounded, addr: unix.SockaddrUnix{Name: path}}
	c.raw.Family = unix.AF_UNIX
	n := copy(unsafe.Slice((*byte)(unsafe.Pointer(&c.raw.Path[0])), len(c.raw.Path)-1), path)
	c.rawLen = uintptr(unsafe.Offsetof(c.raw.Path) + uintptr(n) + 1)
	return c, nil
}

// send sends msg as one datagram, waiting while journald's queue is full.
func (c *journalConn) send(msg []byte) error {
	if c.fd < 0 {
		return unix.EBADF
	}
	var p unsafe.Pointer
	if len(msg) > 0 {
		p = unsafe.Pointer(&msg[0])
	}
	for {
		var e unix.Errno
		if c.bounded {
			_, _, e = unix.RawSyscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(p), uintptr(len(msg)),
				0, uintptr(unsafe.Pointer(&c.raw)), c.rawLen)
		} else { // an unbounded wait must not hold the P
			_, _, e = unix.Syscall6(unix.SYS_SENDTO, uintptr(c.fd), uintptr(p), uintptr(len(msg)),
				0, uintptr(unsafe.Pointer(&c.raw)), c.rawLen)
		}
		if e == unix.EAGAIN || e == unix.EINTR {
			c.retries.Add(1)
			runtime.Gosched()
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// sendRights sends an empty datagram carrying oob (SCM_RIGHTS). Rare (huge
// entries only), so through the ordinary syscall path.
func (c *journalConn) sendRights(oob []byte) error {
	if c.fd < 0 {
		return unix.EBADF
	}
	for {
		err := unix.Sendmsg(c.fd, nil, oob, &c.addr, 0)
		if err != unix.EAGAIN && err != unix.EINTR {
			return err
		}
		c.retries.Add(1)
	}
}

func (c *journalConn) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}
