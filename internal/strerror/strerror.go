// Package strerror renders errors the way C's strerror(3) does, so messages
// built like conmon's ("<msg> <strerror>") match its text byte for byte.
package strerror

import (
	"errors"
	"strconv"
	"syscall"
)

// Text returns glibc's strerror(3) text for the errno inside err, so
// messages built like conmon's ("<msg> <strerror>") match byte for byte. Go's
// errno table is glibc's with the first letter lowered (kept as is when the
// second letter is upper case, e.g. "RPC ..."); only the entries Go lacks
// are special-cased. nil is errno 0 ("Success"); an error that carries no
// errno falls back to its own text.
func Text(err error) string {
	var e syscall.Errno
	if err != nil && !errors.As(err, &e) {
		return err.Error()
	}
	switch e {
	case 0:
		return "Success"
	case 133: // EHWPOISON, missing from Go's table
		return "Memory page has hardware error"
	}
	s := e.Error()
	if s == "errno "+strconv.Itoa(int(e)) {
		return "Unknown error " + strconv.Itoa(int(e))
	}
	if s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
