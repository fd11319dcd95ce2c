package oom

import (
	"bufio"
	"bytes"
	"io"
)

// lineReader reads lines through a buffer the caller owns, as
// bufio.Reader.ReadSlice does through one of its own: the mount table is
// scanned through a scratch mapping that is unmapped afterwards, so that
// nothing of the scan stays in the monitor's heap.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	err        error
}

func newLineReader(r io.Reader, buf []byte) *lineReader {
	return &lineReader{r: r, buf: buf}
}

// maxEmptyReads is how many reads in a row may return nothing before the
// reader gives up (bufio's limit).
const maxEmptyReads = 100

// ReadSlice returns the next line, its '\n' included, as a view into the
// buffer that is valid until the next call. A line longer than the buffer
// comes in pieces, each with bufio.ErrBufferFull; the last line of the
// input comes with io.EOF (or the read error).
func (l *lineReader) ReadSlice() ([]byte, error) {
	empty := 0
	for {
		if i := bytes.IndexByte(l.buf[l.start:l.end], '\n'); i >= 0 {
			line := l.buf[l.start : l.start+i+1]
			l.start += i + 1
			return line, nil
		}
		if l.err != nil {
			line := l.buf[l.start:l.end]
			l.start = l.end
			return line, l.err
		}
		if l.start == 0 && l.end == len(l.buf) {
			l.start, l.end = 0, 0
			return l.buf, bufio.ErrBufferFull
		}
		if l.start > 0 {
			l.end = copy(l.buf, l.buf[l.start:l.end])
			l.start = 0
		}
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		switch {
		case err != nil:
			l.err = err
		case n == 0:
			if empty++; empty >= maxEmptyReads {
				l.err = io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
}
