package cabi

import (
	"syscall"

	"github.com/shim-project/shim/internal/strerror"
)

// TextError is a failure whose text is fixed by the interface (conmon's
// message, byte for byte, as docs/interface.md words each failure) while its
// cause stays reachable for errors.Is and errors.As.
type TextError struct {
	Text string // the whole message
	Err  error  // the cause; may be nil
}

func (e *TextError) Error() string { return e.Text }
func (e *TextError) Unwrap() error { return e.Err }

// NewError returns an error reading text and unwrapping to cause.
func NewError(text string, cause error) *TextError {
	return &TextError{Text: text, Err: cause}
}

// Errno is conmon's pexit text, "<msg> <strerror>", for err (glibc's
// strerror of the errno inside it). An errno of 0 reads "Success", which is
// what conmon prints when strtol fails without setting errno; such an error
// has no cause.
func Errno(msg string, err error) *TextError {
	if err == syscall.Errno(0) {
		err = nil
	}
	return &TextError{Text: msg + " " + strerror.Text(err), Err: err}
}
