package logs

import (
	"errors"

	"golang.org/x/sys/unix"
)

// glibcText returns glibc's strerror text for the errnos a log file or the
// journal socket commonly produce. conmon's messages end in strerror(errno),
// and engines match on those substrings. A switch rather than a map keeps the
// package free of mutable globals and of init work.
func glibcText(e unix.Errno) (string, bool) {
	switch e {
	case unix.EPERM:
		return "Operation not permitted", true
	case unix.ENOENT:
		return "No such file or directory", true
	case unix.EINTR:
		return "Interrupted system call", true
	case unix.EIO:
		return "Input/output error", true
	case unix.ENXIO:
		return "No such device or address", true
	case unix.EBADF:
		return "Bad file descriptor", true
	case unix.EAGAIN:
		return "Resource temporarily unavailable", true
	case unix.ENOMEM:
		return "Cannot allocate memory", true
	case unix.EACCES:
		return "Permission denied", true
	case unix.EBUSY:
		return "Device or resource busy", true
	case unix.EEXIST:
		return "File exists", true
	case unix.EXDEV:
		return "Invalid cross-device link", true
	case unix.ENOTDIR:
		return "Not a directory", true
	case unix.EISDIR:
		return "Is a directory", true
	case unix.EINVAL:
		return "Invalid argument", true
	case unix.ENFILE:
		return "Too many open files in system", true
	case unix.EMFILE:
		return "Too many open files", true
	case unix.ETXTBSY:
		return "Text file busy", true
	case unix.EFBIG:
		return "File too large", true
	case unix.ENOSPC:
		return "No space left on device", true
	case unix.EROFS:
		return "Read-only file system", true
	case unix.EPIPE:
		return "Broken pipe", true
	case unix.ENAMETOOLONG:
		return "File name too long", true
	case unix.ELOOP:
		return "Too many levels of symbolic links", true
	case unix.EMSGSIZE:
		return "Message too long", true
	case unix.ENOBUFS:
		return "No buffer space available", true
	case unix.ECONNREFUSED:
		return "Connection refused", true
	case unix.EDQUOT:
		return "Disk quota exceeded", true
	}
	return "", false
}

// strerror renders err the way glibc's strerror would when err carries an
// errno. Go's own errno texts are glibc's with the first letter lowered, so
// errnos missing from the table still come out right.
func strerror(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	if s, ok := glibcText(errno); ok {
		return s
	}
	s := errno.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// textError carries an exact message dictated by the contract while keeping
// the underlying error reachable for errors.Is.
type textError struct {
	msg string
	err error
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }
