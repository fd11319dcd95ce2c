package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"

	"github.com/shim-project/shim/cio/stream"
)

const (
	// DefaultJournalSocket is where systemd-journald reads native entries.
	DefaultJournalSocket = "/run/systemd/journal/socket"

	// partialMax is conmon's per-stream partial-line buffer (STDIO_BUF_SIZE);
	// like conmon it holds at most partialMax-1 bytes.
	partialMax = 8192
	// sndBufSize is what sd_journal_sendv asks for as socket send buffer;
	// datagrams larger than the granted size go through a memfd.
	sndBufSize = 8 << 20
	// keepBuf bounds the datagram buffer kept between entries, so one huge
	// line does not pin its memory for the rest of the container's life.
	keepBuf = 64 << 10
)

// JournalOptions configure the journald driver (§10.4).
type JournalOptions struct {
	Socket           string // "" means DefaultJournalSocket
	ContainerID      string // --cid
	Name             string // --name
	NameSet          bool
	Tag              string // --log-tag
	TagSet           bool
	Labels           []string // --log-label KEY=VALUE, in command-line order
	NoPartialMessage bool     // --no-container-partial-message
}

// Journal sends one native-protocol datagram per entry to journald (see
// journalConn for the socket). Sends wait while journald's queue is full,
// as conmon's do: output is never dropped for speed. Not safe for
// concurrent use.
type Journal struct {
	conn    *journalConn
	fields  [2][]byte // CONTAINER_ID_FULL … SYSLOG_IDENTIFIER, per stream
	partial []byte    // CONTAINER_PARTIAL_MESSAGE=true, or nil if disabled
	labels  []byte
	pending [2][]byte // buffered partial line per stream
	buf     []byte    // the datagram being built

	memfdSends int // datagrams that went through a memfd (tests look)
	counts     Counts
}

// NewJournal creates the socket and precomputes the fixed fields. It does
// not talk to journald: a missing journal shows up as send errors later.
func NewJournal(o JournalOptions) (*Journal, error) {
	path := o.Socket
	if path == "" {
		path = DefaultJournalSocket
	}
	conn, err := newJournalConn(path)
	if err != nil {
		return nil, fmt.Errorf("journald socket %s: %w", path, err)
	}
	j := &Journal{conn: conn}
	j.fields[0] = journalFields(o, "6")
	j.fields[1] = journalFields(o, "3")
	if !o.NoPartialMessage {
		j.partial = []byte("CONTAINER_PARTIAL_MESSAGE=true\n")
	}
	for _, l := range o.Labels {
		if name, value, ok := strings.Cut(l, "="); ok && name != "" {
			j.labels = appendField(j.labels, name, value)
		}
	}
	return j, nil
}

// journalFields builds the fields that follow MESSAGE, in conmon's order.
func journalFields(o JournalOptions, priority string) []byte {
	id := o.ContainerID
	if len(id) > 12 {
		id = id[:12]
	}
	var b []byte
	b = appendField(b, "CONTAINER_ID_FULL", o.ContainerID)
	b = appendField(b, "PRIORITY", priority)
	b = appendField(b, "CONTAINER_ID", id)
	if o.TagSet {
		b = appendField(b, "CONTAINER_TAG", o.Tag)
	}
	if o.NameSet {
		b = appendField(b, "CONTAINER_NAME", o.Name)
	}
	ident := id
	switch {
	case o.TagSet:
		ident = o.Tag
	case o.NameSet:
		ident = o.Name
	}
	return appendField(b, "SYSLOG_IDENTIFIER", ident)
}

// appendField appends NAME=value\n, or the binary-safe form
// NAME\n<le64 length>value\n when the value contains a newline.
func appendField(b []byte, name, value string) []byte {
	if strings.IndexByte(value, '\n') < 0 {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, value...)
		return append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, '\n')
	b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
	b = append(b, value...)
	return append(b, '\n')
}

// appendMessage appends MESSAGE whose value is a followed by c, without
// first joining them.
func appendMessage(b, a, c []byte) []byte {
	if bytes.IndexByte(a, '\n') < 0 && bytes.IndexByte(c, '\n') < 0 {
		b = append(b, "MESSAGE="...)
		b = append(b, a...)
		b = append(b, c...)
		return append(b, '\n')
	}
	b = append(b, "MESSAGE\n"...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(a)+len(c)))
	b = append(b, a...)
	b = append(b, c...)
	return append(b, '\n')
}

// Write sends the pieces of one read chunk. A piece without '\n' (only the
// last one can be) is held back, up to partialMax-1 bytes per stream, and
// put in front of the next piece; if it does not fit it goes out as a
// partial entry together with what was held. The first error is returned
// and the remaining pieces are still sent.
func (j *Journal) Write(s stream.Stream, p []byte) error {
	i, ok := s.Index()
	if !ok {
		return fmt.Errorf("journald: invalid stream %d", s)
	}
	var first error
	for len(p) > 0 {
		// Pieces of at most maxContent bytes, as conmon's 8 KiB reads
		// make them: a longer line goes out as several partial entries.
		line, full := p[:min(len(p), maxContent)], false
		if k := bytes.IndexByte(line, '\n'); k >= 0 {
			line, full = p[:k+1], true
		}
		p = p[len(line):]
		if !full && len(j.pending[i])+len(line) < partialMax {
			if j.pending[i] == nil {
				j.pending[i] = make([]byte, 0, partialMax)
			}
			j.pending[i] = append(j.pending[i], line...)
			continue
		}
		if err := j.send(i, j.pending[i], line, !full); err != nil && first == nil {
			first = err
		}
		j.pending[i] = j.pending[i][:0]
	}
	return first
}

// Flush sends held partial lines as partial entries (at exit).
func (j *Journal) Flush() error {
	var first error
	for i := range j.pending {
		if len(j.pending[i]) == 0 {
			continue
		}
		if err := j.send(i, j.pending[i], nil, true); err != nil && first == nil {
			first = err
		}
		j.pending[i] = j.pending[i][:0]
	}
	return first
}

// Close flushes held partial lines and closes the socket.
func (j *Journal) Close() error {
	if j.conn.fd < 0 {
		return nil
	}
	err := j.Flush()
	j.conn.close()
	return err
}

// send builds and sends one entry whose MESSAGE is a followed by c.
func (j *Journal) send(stream int, a, c []byte, partial bool) error {
	if j.conn.fd < 0 {
		return cabi.NewError("sd_journal_sendv: "+strerror.Text(unix.EBADF), os.ErrClosed)
	}
	b := appendMessage(j.buf[:0], a, c)
	b = append(b, j.fields[stream]...)
	if partial {
		b = append(b, j.partial...)
	}
	b = append(b, j.labels...)
	err := j.sendDatagram(b)
	j.buf = b[:0]
	if cap(j.buf) > keepBuf {
		j.buf = nil
	}
	j.countSend(stream, len(a)+len(c), partial, err)
	if err != nil {
		return cabi.NewError("sd_journal_sendv: "+strerror.Text(err), err)
	}
	return nil
}

// sendDatagram sends b as one datagram, falling back like sd_journal_sendv
// to a sealed memfd passed with SCM_RIGHTS when b is too big for a datagram.
func (j *Journal) sendDatagram(b []byte) error {
	err := j.conn.send(b)
	if err == unix.EMSGSIZE || err == unix.ENOBUFS {
		return j.sendMemfd(b)
	}
	return err
}

// sendMemfd writes b into a memfd, seals it so journald can trust its size
// and contents, and sends only the fd.
func (j *Journal) sendMemfd(b []byte) error {
	fd, err := unix.MemfdCreate("journal-data", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return err
	}
	err = j.conn.sendRights(unix.UnixRights(fd))
	if err == nil {
		j.memfdSends++
	}
	return err
}
