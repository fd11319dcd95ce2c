package oci

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
)

// Sync message keys (§5.1).
const (
	KeyData     = "data"      // --api-version, any mode; also the attach pipe
	KeyExitCode = "exit_code" // legacy exec (CRI-O ExecSync)
	KeyPid      = "pid"       // legacy create/restore
)

// KeyFor picks the sync message key for the mode.
func KeyFor(apiVersion, exec bool) string {
	switch {
	case apiVersion:
		return KeyData
	case exec:
		return KeyExitCode
	}
	return KeyPid
}

// MaxSyncMessage bounds one message, newline included. podman reads the
// SEQPACKET socket 4096 bytes at a time and a longer datagram would be cut
// by the kernel into invalid JSON, so the text is shortened instead.
const MaxSyncMessage = 4095

// SyncPipe reports to the engine over _OCI_SYNCPIPE or _OCI_ATTACHPIPE.
// A SyncPipe made from a nil file, or whose peer has gone, sends nothing.
type SyncPipe struct {
	mu  sync.Mutex
	f   *os.File
	fd  int
	key string
	buf []byte
}

// NewSyncPipe wraps f (nil = the engine asked for no reporting). The fd's
// blocking mode is left as it is.
func NewSyncPipe(f *os.File, key string) *SyncPipe {
	p := &SyncPipe{f: f, fd: -1, key: key}
	if f != nil {
		// Not f.Fd(): that would switch the descriptor to blocking mode.
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { p.fd = int(fd) })
		}
	}
	return p
}

// Fd is the descriptor number the pipe was created on, or -1. It stays the
// same after the pipe closed itself on EPIPE, so code closing inherited fds
// by number can still skip it (and not close a reused number).
func (p *SyncPipe) Fd() int {
	if p == nil {
		return -1
	}
	return p.fd
}

// Active reports whether messages are still being delivered.
func (p *SyncPipe) Active() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.f != nil
}

// Send writes {"KEY": value} or {"KEY": value, "message": "..."} plus a
// newline in one write(2), retrying on EINTR/EAGAIN/ENOBUFS. If the engine
// has gone (EPIPE) the pipe is closed and later sends do nothing (conmon
// HEAD). Other errors are returned with conmon's text; conmon exits 1 on them.
func (p *SyncPipe) Send(value int, message string) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	p.buf = AppendSyncMessage(p.buf[:0], p.key, value, message)
	for b := p.buf; len(b) > 0; {
		n, err := p.f.Write(b)
		b = b[n:]
		switch {
		case err == nil:
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.ENOBUFS):
			time.Sleep(time.Millisecond) // conmon spins; no need to burn a CPU
		case errors.Is(err, unix.EPIPE):
			p.f.Close()
			p.f = nil
			return nil
		default:
			return cabi.Errno("Unable to send container stderr message to parent", err)
		}
	}
	return nil
}

// Close closes the pipe; later sends do nothing.
func (p *SyncPipe) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// AppendSyncMessage appends one encoded message to dst, at most
// MaxSyncMessage bytes long: the message text is shortened as needed,
// never inside an escape sequence or a UTF-8 character. Like conmon, which
// holds it in a C string, the text ends at its first NUL byte. An empty
// text omits the "message" member.
func AppendSyncMessage(dst []byte, key string, value int, message string) []byte {
	start := len(dst)
	dst = append(dst, `{"`...)
	dst = append(dst, key...)
	dst = append(dst, `": `...)
	dst = strconv.AppendInt(dst, int64(value), 10)
	if message != "" && message[0] != 0 {
		dst = append(dst, `, "message": "`...)
		room := MaxSyncMessage - (len(dst) - start) - len("\"}\n")
		dst = appendEscaped(dst, message, room)
		dst = append(dst, '"')
	}
	return append(dst, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendEscaped is conmon HEAD's JSON escaping, limited to room bytes.
func appendEscaped(dst []byte, s string, room int) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		switch c {
		case 0:
			return dst
		case '"':
			esc = `\"`
		case '\\':
			esc = `\\`
		case '/':
			esc = `\/`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		case '\b':
			esc = `\b`
		case '\f':
			esc = `\f`
		}
		switch {
		case esc != "":
			if len(esc) > room {
				return dst
			}
			dst = append(dst, esc...)
			room -= len(esc)
			i++
		case c < 0x20 || c == 0x7f:
			if room < 6 {
				return dst
			}
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			room -= 6
			i++
		default:
			// Bytes >= 0x80 are copied raw; keep a valid UTF-8 character
			// whole (an invalid byte counts as one).
			n := 1
			if c >= utf8.RuneSelf {
				_, n = utf8.DecodeRuneInString(s[i:])
			}
			if n > room {
				return dst
			}
			dst = append(dst, s[i:i+n]...)
			room -= n
			i += n
		}
	}
	return dst
}

// ParseFdEnv parses the value of an _OCI_* variable as conmon does (§4):
// strtol base 10 over the whole value, so leading white space and a sign
// are accepted, "" is fd 0 and trailing junk is an error; the long is then
// truncated to int. The error text is conmon's "unable to parse VAR
// <strerror>"; errno is ERANGE on overflow and 0 ("Success") for junk,
// since strtol sets no errno for it — what conmon prints.
func ParseFdEnv(name, value string) (int, error) {
	v, end, errno := strtol10(value)
	if errno != 0 || end != len(value) {
		return 0, cabi.Errno("unable to parse "+name, errno)
	}
	return int(int32(v)), nil
}

// SetCloexec sets FD_CLOEXEC (and only that flag) on fd, as conmon does
// with the _OCI_* fds so they do not leak into the runtime.
func SetCloexec(name string, fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return cabi.Errno("unable to make "+name+" CLOEXEC", err)
	}
	return nil
}

// strtol10 is C strtol(s, &end, 10); see cabi.Strtol.
func strtol10(s string) (int64, int, syscall.Errno) { return cabi.Strtol(s, 10) }
