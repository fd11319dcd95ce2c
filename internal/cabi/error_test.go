package cabi

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestErrno(t *testing.T) {
	err := error(Errno("unable to parse X", syscall.ENOENT))
	if err.Error() != "unable to parse X No such file or directory" {
		t.Errorf("text %q", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("does not unwrap to its errno")
	}
	var te *TextError
	if !errors.As(err, &te) || te.Err != syscall.ENOENT {
		t.Errorf("not a *TextError with its cause: %#v", err)
	}
	zero := Errno("unable to parse X", syscall.Errno(0))
	if zero.Error() != "unable to parse X Success" || zero.Unwrap() != nil {
		t.Errorf("errno 0: %q, cause %v", zero, zero.Unwrap())
	}
}

func TestNewError(t *testing.T) {
	cause := errors.New("open /x: denied")
	err := error(NewError("Failed to open log file Permission denied", cause))
	if err.Error() != "Failed to open log file Permission denied" || !errors.Is(err, cause) {
		t.Errorf("%q does not carry its text and cause", err)
	}
}
