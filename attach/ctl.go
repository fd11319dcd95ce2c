package attach

import (
	"bytes"

	"github.com/shim-project/shim/internal/cabi"
)

const (
	// ctlReadMax is conmon's ctl buffer (200) minus its NUL: at most this
	// many bytes are read at once, and a line must fit in it (§9).
	ctlReadMax = 199
	// maxWinSize bounds H and W, inclusive, for both message types [HEAD].
	maxWinSize = 1000

	ctlResize = 1
	ctlReopen = 2
)

// lineBuf splits FIFO reads into lines, keeping a trailing fragment for the
// next read and discarding a line that does not fit in ctlReadMax bytes.
type lineBuf struct {
	buf      [ctlReadMax]byte
	n        int  // fragment bytes kept from earlier reads
	skipping bool // inside an over-long line: drop up to the next newline
}

// space is where the next read goes (never empty: a full buffer is dropped).
func (b *lineBuf) space() []byte { return b.buf[b.n:] }

// commit consumes n bytes just read into space(), calling line for every
// complete line. When line returns false the rest of the buffer (this read
// and any fragment) is dropped, as conmon does after an invalid message.
// It reports whether an over-long line was discarded.
func (b *lineBuf) commit(n int, line func([]byte) bool) (overlong bool) {
	data := b.buf[:b.n+n]
	b.n = 0
	if b.skipping {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return false
		}
		b.skipping = false
		data = data[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if !line(data[:i]) {
			return false
		}
		data = data[i+1:]
	}
	if len(data) == ctlReadMax {
		b.skipping = true
		return true
	}
	b.n = copy(b.buf[:], data) // copy handles the overlap (memmove)
	return false
}

// scanInts converts leading integers of line as glibc's sscanf("%d %d ...")
// does and returns how many it converted before the first failure: optional
// whitespace, optional sign, decimal digits (leading zeros stay decimal;
// "0x10" yields 0 and stops, "10.5" yields 10); extra text is ignored. The
// value is strtol's (saturating at the 64-bit limits) truncated to a C int,
// so "4294967298" reads as 2, exactly like conmon.
func scanInts(line []byte, dst []int32) int {
	i := 0
	for k := range dst {
		v, end, _ := cabi.Strtol(line[i:], 10)
		if end == 0 {
			return k
		}
		dst[k] = int32(v) // C long → int: truncation, on purpose
		i += end
	}
	return len(dst)
}

func validSize(v int32) bool { return v >= 0 && v <= maxWinSize }

// ctlHandler applies one ctl line (§9); it returns false for an invalid
// line so the caller drops the rest of the chunk.
type ctlHandler struct {
	log    Logger
	info   bool              // log wants Infof lines (boxing their arguments allocates)
	resize func(h, w uint16) // type 1
	reopen func()            // type 2
}

func (c *ctlHandler) line(line []byte) bool {
	var v [3]int32
	if scanInts(line, v[:]) < 3 {
		c.log.Warnf("Invalid control message format")
		return false
	}
	typ, h, w := v[0], v[1], v[2]
	if typ != ctlResize && typ != ctlReopen {
		c.log.Warnf("Invalid control message type: %d", typ)
		return false
	}
	if !validSize(h) || !validSize(w) {
		c.log.Warnf("Invalid window size: %dx%d (must be between 0 and %d)", h, w, maxWinSize)
		return false
	}
	if c.info {
		c.log.Infof("Message type: %d", typ)
	}
	if typ == ctlResize {
		c.resize(uint16(h), uint16(w))
	} else {
		c.reopen()
	}
	return true
}

// winszLine parses one "H W" line of the winsz FIFO. Invalid lines are
// reported and skipped; unlike ctl there is nothing after them to protect.
func winszLine(log Logger, line []byte, resize func(h, w uint16)) bool {
	var v [2]int32
	if scanInts(line, v[:]) < 2 {
		log.Warnf("Failed to parse window size")
		return true
	}
	if !validSize(v[0]) || !validSize(v[1]) {
		log.Warnf("Invalid window size: %dx%d (must be between 0 and %d)", v[0], v[1], maxWinSize)
		return true
	}
	log.Debugf("Height: %d, Width: %d", v[0], v[1])
	resize(uint16(v[0]), uint16(v[1]))
	return true
}
