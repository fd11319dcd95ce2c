package exitcode

import (
	"errors"
	"strconv"
	"syscall"
)

// strerror returns glibc's text for the errno inside err (conmon's messages
// embed strerror(3), e.g. "No such file or directory"). Go's errno table is
// glibc's with the first letter lowered; only the entries Go lacks are
// listed. Errors that carry no errno fall back to their own text.
//
// oci has the same helper; the two are to be merged by the lead.
func strerror(err error) string {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return err.Error()
	}
	switch e {
	case 0:
		return "Success"
	case 133: // EHWPOISON
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
