package logs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

const testCID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

type field struct{ name, value string }

// fakeJournal is a unixgram socket in a temp dir standing in for journald.
type fakeJournal struct {
	fd   int
	path string
}

func newFakeJournal(t *testing.T) *fakeJournal {
	t.Helper()
	s := &fakeJournal{path: filepath.Join(t.TempDir(), "socket")}
	s.listen(t)
	return s
}

func (s *fakeJournal) listen(t *testing.T) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: s.path}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second)) // a test must not hang
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	s.fd = fd
	t.Cleanup(func() { unix.Close(fd) })
}

// recv returns the next entry's raw payload, reading it from the memfd when
// one was passed, and whether it came as a memfd.
func (s *fakeJournal) recv(t *testing.T) ([]byte, bool) {
	t.Helper()
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(s.fd, buf, oob, 0)
	if err != nil {
		t.Fatalf("fake journal recv: %v", err)
	}
	if oobn == 0 {
		return buf[:n], false
	}
	if n != 0 {
		t.Fatalf("memfd datagram carries %d data bytes, want 0", n)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("rights: %v %v", fds, err)
	}
	defer unix.Close(fds[0])
	seals, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GET_SEALS, 0)
	want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL
	if err != nil || seals&want != want {
		t.Fatalf("memfd seals %#x (%v), want %#x", seals, err, want)
	}
	var st unix.Stat_t
	unix.Fstat(fds[0], &st)
	data := make([]byte, st.Size)
	if _, err := unix.Pread(fds[0], data, 0); err != nil {
		t.Fatal(err)
	}
	return data, true
}

func (s *fakeJournal) entry(t *testing.T) []field {
	t.Helper()
	b, _ := s.recv(t)
	return parseNative(t, b)
}

func (s *fakeJournal) expectNothing(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<16)
	if n, _, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Fatalf("unexpected datagram %q (%v)", buf[:max(n, 0)], err)
	}
}

// parseNative decodes systemd's native journal protocol.
func parseNative(t *testing.T, b []byte) []field {
	t.Helper()
	var out []field
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			t.Fatalf("unterminated field %q", b)
		}
		if eq := bytes.IndexByte(b[:nl], '='); eq >= 0 {
			out = append(out, field{string(b[:eq]), string(b[eq+1 : nl])})
			b = b[nl+1:]
			continue
		}
		if len(b) < nl+9 {
			t.Fatalf("short binary field %q", b)
		}
		n := int(binary.LittleEndian.Uint64(b[nl+1:]))
		end := nl + 9 + n
		if len(b) <= end || b[end] != '\n' {
			t.Fatalf("bad binary field %q", b)
		}
		out = append(out, field{string(b[:nl]), string(b[nl+9 : end])})
		b = b[end+1:]
	}
	return out
}

func newTestJournal(t *testing.T, s *fakeJournal, o JournalOptions) *Journal {
	t.Helper()
	o.Socket = s.path
	if o.ContainerID == "" {
		o.ContainerID = testCID
	}
	j, err := NewJournal(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func fieldsString(fs []field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.name + "=" + f.value + "|")
	}
	return b.String()
}

// TestJournalFieldOrder: all fields, in §10.4's order, labels verbatim.
func TestJournalFieldOrder(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{
		Name: "web", NameSet: true, Tag: "mytag", TagSet: true,
		Labels: []string{"ZED=last", "A_1=x=y", "NL=two\nlines"},
	})
	if err := j.Write(stream.Stderr, []byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	raw, _ := s.recv(t)
	want := []field{
		{"MESSAGE", "partial"},
		{"CONTAINER_ID_FULL", testCID},
		{"PRIORITY", "3"},
		{"CONTAINER_ID", testCID[:12]},
		{"CONTAINER_TAG", "mytag"},
		{"CONTAINER_NAME", "web"},
		{"SYSLOG_IDENTIFIER", "mytag"},
		{"CONTAINER_PARTIAL_MESSAGE", "true"},
		{"ZED", "last"},
		{"A_1", "x=y"},
		{"NL", "two\nlines"},
	}
	if got := parseNative(t, raw); fieldsString(got) != fieldsString(want) {
		t.Fatalf("fields\n%s\nwant\n%s", fieldsString(got), fieldsString(want))
	}
	if !bytes.HasPrefix(raw, []byte("MESSAGE=partial\n")) || !bytes.Contains(raw, []byte("NL\n")) {
		t.Fatalf("encoding: %q", raw)
	}
}

// TestJournalMessage: full lines keep their '\n' (so MESSAGE uses the
// binary-safe form), PRIORITY is 6/3 and a "<N>" prefix is not parsed.
func TestJournalMessage(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	if err := j.Write(stream.Stdout, []byte("<4>warn\n\x00bin\xff\n")); err != nil {
		t.Fatal(err)
	}
	raw, _ := s.recv(t)
	if !bytes.HasPrefix(raw, []byte("MESSAGE\n\x08\x00\x00\x00\x00\x00\x00\x00<4>warn\n\n")) {
		t.Fatalf("raw datagram %q", raw)
	}
	want := "MESSAGE=<4>warn\n|CONTAINER_ID_FULL=" + testCID + "|PRIORITY=6|CONTAINER_ID=" + testCID[:12] +
		"|SYSLOG_IDENTIFIER=" + testCID[:12] + "|"
	if got := fieldsString(parseNative(t, raw)); got != want {
		t.Fatalf("fields %s\nwant   %s", got, want)
	}
	if got := s.entry(t); got[0].value != "\x00bin\xff\n" || got[2].value != "6" {
		t.Fatalf("second entry %q", got)
	}
	s.expectNothing(t)
}

func TestJournalSyslogIdentifier(t *testing.T) {
	tests := []struct {
		o    JournalOptions
		want string
	}{
		{JournalOptions{Tag: "t", TagSet: true, Name: "n", NameSet: true}, "CONTAINER_TAG=t|CONTAINER_NAME=n|SYSLOG_IDENTIFIER=t|"},
		{JournalOptions{Name: "n", NameSet: true}, "CONTAINER_NAME=n|SYSLOG_IDENTIFIER=n|"},
		{JournalOptions{Tag: "t", TagSet: true}, "CONTAINER_TAG=t|SYSLOG_IDENTIFIER=t|"},
		{JournalOptions{}, "SYSLOG_IDENTIFIER=" + testCID[:12] + "|"},
		{JournalOptions{ContainerID: "short"}, "SYSLOG_IDENTIFIER=short|"},
	}
	for _, tc := range tests {
		s := newFakeJournal(t)
		j := newTestJournal(t, s, tc.o)
		if err := j.Write(stream.Stdout, []byte("x\n")); err != nil {
			t.Fatal(err)
		}
		got := fieldsString(s.entry(t)[3:])       // after MESSAGE, ID_FULL, PRIORITY
		got = got[strings.IndexByte(got, '|')+1:] // and CONTAINER_ID
		if got != tc.want {
			t.Errorf("%+v: fields %s, want %s", tc.o, got, tc.want)
		}
	}
}

// TestJournalPartials: partial pieces are held per stream and put in front
// of the next piece; too much held data goes out as a partial entry; Flush
// sends what is left.
func TestJournalPartials(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	msg := func() (string, bool) {
		fs := s.entry(t)
		partial := false
		for _, f := range fs {
			partial = partial || f.name == "CONTAINER_PARTIAL_MESSAGE"
		}
		return fs[0].value, partial
	}
	write := func(st stream.Stream, p string) {
		t.Helper()
		if err := j.Write(st, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	write(stream.Stdout, "abc")
	write(stream.Stderr, "e1")
	s.expectNothing(t)
	write(stream.Stdout, "def\nghi")
	if m, p := msg(); m != "abcdef\n" || p {
		t.Fatalf("joined line %q partial=%v", m, p)
	}
	write(stream.Stderr, "\n")
	if m, p := msg(); m != "e1\n" || p {
		t.Fatalf("stderr line %q partial=%v", m, p)
	}
	s.expectNothing(t)
	write(stream.Stdout, strings.Repeat("x", 8188)) // 3+8188 = 8191 bytes held: fits
	s.expectNothing(t)
	write(stream.Stdout, "y") // 8192 does not fit: one partial entry
	if m, p := msg(); m != "ghi"+strings.Repeat("x", 8188)+"y" || !p {
		t.Fatalf("overflow entry of %d bytes partial=%v", len(m), p)
	}
	write(stream.Stdout, strings.Repeat("z", 8192)) // a full read without '\n'
	if m, p := msg(); len(m) != 8192 || !p {
		t.Fatalf("8192-byte read: %d bytes partial=%v", len(m), p)
	}
	write(stream.Stdout, "tail")
	write(stream.Stderr, "etail")
	s.expectNothing(t)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	if m, p := msg(); m != "tail" || !p {
		t.Fatalf("flushed stdout %q partial=%v", m, p)
	}
	if m, p := msg(); m != "etail" || !p {
		t.Fatalf("flushed stderr %q partial=%v", m, p)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	s.expectNothing(t)
}

func TestJournalNoPartialMessage(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{NoPartialMessage: true})
	j.Write(stream.Stdout, []byte("held"))
	if err := j.Close(); err != nil { // Close flushes
		t.Fatal(err)
	}
	fs := s.entry(t)
	if fs[0].value != "held" || strings.Contains(fieldsString(fs), "PARTIAL") {
		t.Fatalf("fields %s", fieldsString(fs))
	}
}

// TestJournalMemfd: an entry larger than the socket's send buffer goes as a
// sealed memfd with no data, as sd_journal_sendv does.
func TestJournalMemfd(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	// The smallest send buffer the kernel grants (about 4.5 KiB) is below
	// one 8 KiB piece, the largest MESSAGE the driver sends.
	if err := unix.SetsockoptInt(j.conn.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1024); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("m", maxContent-1) + "\n"
	if err := j.Write(stream.Stdout, []byte(big)); err != nil {
		t.Fatal(err)
	}
	raw, viaMemfd := s.recv(t)
	if !viaMemfd || j.memfdSends != 1 {
		t.Fatalf("memfd used: %v, count %d", viaMemfd, j.memfdSends)
	}
	if fs := parseNative(t, raw); fs[0].value != big || fs[2].value != "6" {
		t.Fatalf("memfd entry has MESSAGE of %d bytes", len(fs[0].value))
	}
	if cap(j.buf) > keepBuf {
		t.Fatalf("kept a %d-byte datagram buffer", cap(j.buf))
	}
}

// TestJournalMissingSocket: without journald every send fails with a
// warning-ready error; once a journal appears logging resumes.
func TestJournalMissingSocket(t *testing.T) {
	s := &fakeJournal{path: filepath.Join(t.TempDir(), "socket")}
	j := newTestJournal(t, s, JournalOptions{})
	err := j.Write(stream.Stdout, []byte("lost\n"))
	if err == nil || err.Error() != "sd_journal_sendv: No such file or directory" || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("error = %v", err)
	}
	s.listen(t)
	if err := j.Write(stream.Stdout, []byte("found\n")); err != nil {
		t.Fatal(err)
	}
	if fs := s.entry(t); fs[0].value != "found\n" {
		t.Fatalf("got %q", fs[0].value)
	}
	j.Close()
	if err := j.Write(stream.Stdout, []byte("after close\n")); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

// TestJournalZeroAllocs: steady-state sends allocate nothing.
func TestJournalZeroAllocs(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{Name: "n", NameSet: true, Labels: []string{"A=b"}})
	done := make(chan struct{})
	go func() { // drain without allocating
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, err := unix.Read(s.fd, buf)
			if err != nil || string(buf[:n]) == "STOP" {
				return
			}
		}
	}()
	line := []byte(strings.Repeat("a", 99) + "\n")
	part := []byte("part")
	j.Write(stream.Stdout, line)
	j.Write(stream.Stdout, part)
	allocs := testing.AllocsPerRun(200, func() {
		if err := j.Write(stream.Stdout, line); err != nil {
			t.Fatal(err)
		}
		if err := j.Write(stream.Stderr, part); err != nil {
			t.Fatal(err)
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	unix.Sendto(j.conn.fd, []byte("STOP"), 0, &j.conn.addr)
	<-done
	if allocs != 0 {
		t.Fatalf("%v allocations per Write, want 0", allocs)
	}
}

// TestJournalLongLinePieces: a read of more than maxContent bytes, as the
// monitor's 64 KiB reads give, is sent in pieces of at most maxContent
// bytes, the way conmon's 8 KiB reads cut it: partial entries, then the
// rest of the line as a full one.
func TestJournalLongLinePieces(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	line := strings.Repeat("l", 3*maxContent+10) + "\n"
	if err := j.Write(stream.Stdout, []byte(line+"next\n")); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for i := 0; i < 4; i++ {
		fs := s.entry(t)
		partial := false
		for _, f := range fs {
			partial = partial || f.name == "CONTAINER_PARTIAL_MESSAGE"
		}
		if m := fs[0].value; len(m) > maxContent || partial != (i < 3) {
			t.Fatalf("entry %d: %d bytes, partial=%v", i, len(m), partial)
		}
		got.WriteString(fs[0].value)
	}
	if got.String() != line {
		t.Fatalf("pieces join to %d bytes, want %d", got.Len(), len(line))
	}
	if fs := s.entry(t); fs[0].value != "next\n" {
		t.Fatalf("then %q", fs[0].value)
	}
	s.expectNothing(t)
}
