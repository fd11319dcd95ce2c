// Package syslog sends messages to the local syslog socket the way glibc's
// syslog(3) does when openlog was never called: facility LOG_USER, the
// program's name as tag, no pid, local time. It exists because log/syslog
// pulls in package net, and the monitor (one per container) keeps its
// import graph small.
package syslog

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Priorities used by the monitor (RFC 3164 severities).
const (
	Err  = 3
	Info = 6
)

// facilityUser is LOG_USER, glibc's default facility.
const facilityUser = 1 << 3

// sendTimeout bounds one send to the syslog socket.
const sendTimeout = 100 * time.Millisecond

// DefaultPath is glibc's _PATH_LOG.
const DefaultPath = "/dev/log"

// Writer is a lazily connected client of the syslog socket at Path. It is
// safe for concurrent use. A socket that is missing or refuses messages
// makes Send fail; nothing is buffered or retried later, as with syslog(3).
type Writer struct {
	Path string
	Tag  string

	mu     sync.Mutex
	fd     int
	stream bool
}

// New returns a Writer for path with the given tag; it connects on first use.
func New(path, tag string) *Writer {
	return &Writer{Path: path, Tag: tag, fd: -1}
}

// Format renders one record as glibc does: "<PRI>Mmm dd hh:mm:ss TAG: MSG".
func Format(pri int, t time.Time, tag, msg string) []byte {
	b := make([]byte, 0, 32+len(tag)+len(msg))
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facilityUser|pri), 10)
	b = append(b, '>')
	b = t.AppendFormat(b, time.Stamp) // "%h %e %T": "Jan  2 15:04:05"
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, ": "...)
	return append(b, msg...)
}

// Send writes msg with severity pri. As glibc does, a failed send on an
// established connection is retried once on a fresh one (syslogd may have
// restarted and replaced its socket).
func (w *Writer) Send(pri int, msg string) error {
	rec := Format(pri, time.Now(), w.Tag, msg)
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	for try := 0; try < 2; try++ {
		if w.fd < 0 {
			if err = w.connect(); err != nil {
				return err
			}
		}
		out := rec
		if w.stream {
			out = append(rec, 0) // stream readers split records on NUL
		}
		if err = w.write(out); err == nil {
			return nil
		}
		w.closeLocked()
	}
	return err
}

func (w *Writer) write(b []byte) error {
	for {
		_, err := unix.Write(w.fd, b)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}

// connect tries a datagram socket first and a stream socket if the path
// names one (EPROTOTYPE), like glibc's openlog_internal.
func (w *Writer) connect() error {
	addr := &unix.SockaddrUnix{Name: w.Path}
	for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		// A syslog daemon that stops reading (journald's queue holds only
		// net.unix.max_dgram_qlen datagrams) must not stall the monitor,
		// whose warnings can come from the log path: give up on a record
		// rather than wait.
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Usec: sendTimeout.Microseconds()})
		err = unix.Connect(fd, addr)
		if err == nil {
			w.fd, w.stream = fd, typ == unix.SOCK_STREAM
			return nil
		}
		unix.Close(fd)
		if err != unix.EPROTOTYPE {
			return err
		}
	}
	return unix.EPROTOTYPE
}

// Close drops the connection; a later Send reconnects.
func (w *Writer) Close() {
	w.mu.Lock()
	w.closeLocked()
	w.mu.Unlock()
}

func (w *Writer) closeLocked() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}
