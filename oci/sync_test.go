package oci

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

func TestKeyFor(t *testing.T) {
	for _, tc := range []struct {
		api, exec bool
		want      string
	}{
		{true, false, "data"}, {true, true, "data"},
		{false, true, "exit_code"}, {false, false, "pid"},
	} {
		if got := KeyFor(tc.api, tc.exec); got != tc.want {
			t.Errorf("KeyFor(%v, %v) = %q, want %q", tc.api, tc.exec, got, tc.want)
		}
	}
}

func TestAppendSyncMessage(t *testing.T) {
	for _, tc := range []struct {
		key   string
		value int
		msg   string
		want  string
	}{
		{"data", 1234, "", `{"data": 1234}` + "\n"},
		{"pid", -1, "", `{"pid": -1}` + "\n"},
		{"exit_code", -1, "command timed out", `{"exit_code": -1, "message": "command timed out"}` + "\n"},
		{"data", 0, "", `{"data": 0}` + "\n"}, // the attach-pipe message
		{"data", -1, `say "hi"`, `{"data": -1, "message": "say \"hi\""}` + "\n"},
		{"data", -1, `a\b`, `{"data": -1, "message": "a\\b"}` + "\n"},
		{"data", -1, "/usr/bin/x", `{"data": -1, "message": "\/usr\/bin\/x"}` + "\n"},
		{"data", -1, "l1\nl2\r\t\b\f", `{"data": -1, "message": "l1\nl2\r\t\b\f"}` + "\n"},
		{"data", -1, "\x01\x1b\x1f\x7f", `{"data": -1, "message": "\u0001\u001b\u001f\u007f"}` + "\n"},
		{"data", -1, "\x0b\x0e", `{"data": -1, "message": "\u000b\u000e"}` + "\n"},
		{"data", -1, "é€\xff\x80", "{\"data\": -1, \"message\": \"é€\xff\x80\"}\n"},
		{"data", -1, " ~!#$%&'()*+,-.09:;<=>?@AZ[]^_`az{|}", `{"data": -1, "message": " ~!#$%&'()*+,-.09:;<=>?@AZ[]^_` + "`" + `az{|}"}` + "\n"},
		// conmon holds the text in a C string: it ends at a NUL.
		{"data", -1, "before\x00after", `{"data": -1, "message": "before"}` + "\n"},
		{"data", -1, "\x00after", `{"data": -1}` + "\n"},
	} {
		got := string(AppendSyncMessage(nil, tc.key, tc.value, tc.msg))
		if got != tc.want {
			t.Errorf("AppendSyncMessage(%q, %d, %q)\n got %q\nwant %q", tc.key, tc.value, tc.msg, got, tc.want)
		}
	}
}

// Every byte value in one message: escapes are what encoding/json (what
// podman and CRI-O use) decodes back to the original text, bar the raw
// invalid UTF-8, which it replaces.
func TestAppendSyncMessageRoundTrip(t *testing.T) {
	var b strings.Builder
	for c := 1; c < 0x80; c++ {
		b.WriteByte(byte(c))
	}
	b.WriteString("ünïcødé")
	msg := b.String()
	line := AppendSyncMessage(nil, "data", -1, msg)
	var v struct {
		Data    int    `json:"data"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if v.Data != -1 || v.Message != msg {
		t.Errorf("decoded %d %q, want -1 %q", v.Data, v.Message, msg)
	}
}

func TestAppendSyncMessageTruncation(t *testing.T) {
	prefix := `{"data": -1, "message": "`
	room := MaxSyncMessage - len(prefix) - len("\"}\n")

	// Exactly fits: nothing is cut.
	msg := strings.Repeat("a", room)
	got := AppendSyncMessage(nil, "data", -1, msg)
	if want := prefix + msg + "\"}\n"; string(got) != want || len(got) != MaxSyncMessage {
		t.Fatalf("fitting message altered: len %d", len(got))
	}
	// One more byte is dropped.
	got = AppendSyncMessage(nil, "data", -1, msg+"b")
	if string(got) != prefix+msg+"\"}\n" {
		t.Errorf("overlong message not cut at the limit: len %d, tail %q", len(got), got[len(got)-8:])
	}

	// An escape or a UTF-8 character that does not fit whole is left out.
	for _, tail := range []string{"\x01", "\"", "/", "\n", "é", "€", "😀"} {
		for short := 0; short < 6; short++ {
			m := strings.Repeat("a", room-short) + tail + "zzz"
			got := AppendSyncMessage(nil, "data", -1, m)
			if len(got) > MaxSyncMessage {
				t.Fatalf("tail %q short %d: len %d > %d", tail, short, len(got), MaxSyncMessage)
			}
			if !strings.HasSuffix(string(got), "\"}\n") {
				t.Fatalf("tail %q short %d: bad end %q", tail, short, got[len(got)-10:])
			}
			body := string(got[len(prefix) : len(got)-3])
			if !utf8.ValidString(body) {
				t.Errorf("tail %q short %d: split UTF-8 character", tail, short)
			}
			var v struct{ Message string }
			if err := json.Unmarshal(got, &v); err != nil {
				t.Errorf("tail %q short %d: invalid JSON (split escape?): %v", tail, short, err)
			}
			if !strings.HasPrefix(m, v.Message) {
				t.Errorf("tail %q short %d: decoded text is not a prefix of the message", tail, short)
			}
		}
	}

	// A key and value of any size still leave a valid message.
	got = AppendSyncMessage(nil, "exit_code", -2147483648, strings.Repeat("\x01", 5000))
	if len(got) > MaxSyncMessage || json.Unmarshal(got, new(any)) != nil {
		t.Errorf("escape-heavy message: len %d, valid %v", len(got), json.Valid(got))
	}
}

func socketpair(t *testing.T, typ int) (*os.File, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	return os.NewFile(uintptr(fds[0]), "sync"), fds[1]
}

// podman's case: each message arrives as one datagram.
func TestSyncPipeSeqpacket(t *testing.T) {
	f, peer := socketpair(t, unix.SOCK_SEQPACKET)
	p := NewSyncPipe(f, KeyData)
	defer p.Close()
	if p.Fd() != int(f.Fd()) || !p.Active() {
		t.Fatalf("Fd %d Active %v", p.Fd(), p.Active())
	}
	long := strings.Repeat("x/", 3000)
	msgs := []struct {
		v int
		m string
	}{{4242, ""}, {-1, "runc create failed: \"boom\"\n"}, {7, ""}, {-1, long}}
	for _, m := range msgs {
		if err := p.Send(m.v, m.m); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	for _, m := range msgs {
		n, err := unix.Read(peer, buf)
		if err != nil {
			t.Fatal(err)
		}
		want := string(AppendSyncMessage(nil, KeyData, m.v, m.m))
		if string(buf[:n]) != want {
			t.Errorf("datagram %q, want %q", buf[:n], want)
		}
		if n > MaxSyncMessage || buf[n-1] != '\n' {
			t.Errorf("datagram of %d bytes, last %q", n, buf[n-1])
		}
	}
}

// CRI-O's case: a plain pipe, read as a stream of JSON values.
func TestSyncPipeOSPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := NewSyncPipe(w, KeyFor(false, true))
	if err := p.Send(-1, "command timed out"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	var v struct {
		ExitCode int    `json:"exit_code"`
		Message  string `json:"message"`
	}
	if err := json.NewDecoder(r).Decode(&v); err != nil || v.ExitCode != -1 || v.Message != "command timed out" {
		t.Errorf("decoded %+v, %v", v, err)
	}
}

// HEAD: a vanished engine closes the pipe silently and stops reporting.
func TestSyncPipeEPIPE(t *testing.T) {
	for _, typ := range []int{unix.SOCK_SEQPACKET, unix.SOCK_STREAM} {
		f, peer := socketpair(t, typ)
		fd := int(f.Fd())
		unix.Close(peer)
		p := NewSyncPipe(f, KeyPid)
		if err := p.Send(12, "x"); err != nil {
			t.Fatalf("Send to a closed peer: %v", err)
		}
		if p.Active() {
			t.Error("still active after EPIPE")
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
			t.Errorf("fd %d not closed after EPIPE (fcntl: %v)", fd, err)
		}
		if p.Fd() != fd {
			t.Errorf("Fd() = %d after EPIPE, want the original %d", p.Fd(), fd)
		}
		if err := p.Send(0, ""); err != nil {
			t.Errorf("Send after EPIPE: %v", err)
		}
	}
}

func TestSyncPipeOtherError(t *testing.T) {
	f, err := os.Open("/dev/null") // read-only: write(2) gives EBADF
	if err != nil {
		t.Fatal(err)
	}
	p := NewSyncPipe(f, KeyData)
	defer p.Close()
	err = p.Send(1, "")
	want := "Unable to send container stderr message to parent Bad file descriptor"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if !errors.Is(err, syscall.EBADF) {
		t.Error("error does not unwrap to EBADF")
	}
}

func TestSyncPipeNil(t *testing.T) {
	p := NewSyncPipe(nil, KeyData)
	if err := p.Send(1, "x"); err != nil || p.Active() || p.Fd() != -1 || p.Close() != nil {
		t.Error("a nil-file SyncPipe must do nothing")
	}
	var np *SyncPipe
	if err := np.Send(1, ""); err != nil || np.Active() || np.Fd() != -1 || np.Close() != nil {
		t.Error("a nil *SyncPipe must do nothing")
	}
}

// A full non-blocking socket makes write(2) fail with EAGAIN; the message
// must still go out whole once the engine reads.
func TestSyncPipeWaitsWhenFull(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	filler := make([]byte, 1024)
	queued := 0
	for {
		if _, err := unix.Write(fds[0], filler); err != nil {
			break
		}
		queued++
	}
	p := NewSyncPipe(os.NewFile(uintptr(fds[0]), "sync"), KeyData)
	defer p.Close()
	done := make(chan error, 1)
	go func() { done <- p.Send(99, "late") }()
	select {
	case err := <-done:
		t.Fatalf("Send returned %v while the socket was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	buf := make([]byte, 8192)
	for range queued {
		if _, err := unix.Read(fds[1], buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pfd := []unix.PollFd{{Fd: int32(fds[1]), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 2000); err != nil {
		t.Fatal(err)
	}
	n, err := unix.Read(fds[1], buf)
	if err != nil || string(buf[:n]) != "{\"data\": 99, \"message\": \"late\"}\n" {
		t.Errorf("got %q, %v", buf[:n], err)
	}
}

func TestParseFdEnv(t *testing.T) {
	for _, tc := range []struct {
		value   string
		fd      int
		wantErr string
	}{
		{"3", 3, ""},
		{"", 0, ""},
		{" 7", 7, ""},
		{"+5", 5, ""},
		{"-1", -1, ""},
		{"4294967298", 2, ""}, // long → int truncation
		{"3x", 0, "unable to parse _OCI_SYNCPIPE Success"},
		{"3 ", 0, "unable to parse _OCI_SYNCPIPE Success"},
		{" ", 0, "unable to parse _OCI_SYNCPIPE Success"},
		{"x", 0, "unable to parse _OCI_SYNCPIPE Success"},
		{"0x3", 0, "unable to parse _OCI_SYNCPIPE Success"},
		{"99999999999999999999", 0, "unable to parse _OCI_SYNCPIPE Numerical result out of range"},
		{"-99999999999999999999", 0, "unable to parse _OCI_SYNCPIPE Numerical result out of range"},
	} {
		fd, err := ParseFdEnv("_OCI_SYNCPIPE", tc.value)
		switch {
		case tc.wantErr == "" && (err != nil || fd != tc.fd):
			t.Errorf("ParseFdEnv(%q) = %d, %v; want %d", tc.value, fd, err, tc.fd)
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("ParseFdEnv(%q) error = %v, want %q", tc.value, err, tc.wantErr)
		}
	}
	_, err := ParseFdEnv("X", "99999999999999999999")
	if !errors.Is(err, syscall.ERANGE) {
		t.Error("overflow error does not unwrap to ERANGE")
	}
}

func TestStrtol10(t *testing.T) {
	for _, tc := range []struct {
		in    string
		v     int64
		end   int
		errno syscall.Errno
	}{
		{"", 0, 0, 0},
		{"  -", 0, 0, 0},
		{"9223372036854775807", 9223372036854775807, 19, 0},
		{"9223372036854775808", 9223372036854775807, 19, unix.ERANGE},
		{"-9223372036854775808", -9223372036854775808, 20, 0},
		{"-9223372036854775809x", -9223372036854775808, 20, unix.ERANGE},
		{" +12ab", 12, 4, 0},
	} {
		v, end, errno := strtol10(tc.in)
		if v != tc.v || end != tc.end || errno != tc.errno {
			t.Errorf("strtol10(%q) = %d, %d, %v; want %d, %d, %v", tc.in, v, end, errno, tc.v, tc.end, tc.errno)
		}
	}
}

func TestSetCloexec(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(w.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	if err := SetCloexec("_OCI_SYNCPIPE", fd); err != nil {
		t.Fatal(err)
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl != unix.FD_CLOEXEC {
		t.Errorf("fd flags = %#x, want FD_CLOEXEC", fl)
	}
	for _, bad := range []int{-1, 1 << 20} {
		err := SetCloexec("_OCI_STARTPIPE", bad)
		if want := "unable to make _OCI_STARTPIPE CLOEXEC Bad file descriptor"; err == nil || err.Error() != want {
			t.Errorf("SetCloexec(%d) = %v, want %q", bad, err, want)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fds[1])
	p := NewSyncPipe(os.NewFile(uintptr(fds[0]), "sync"), KeyData)
	defer p.Close()
	buf := make([]byte, 8192)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Send(-1, "container_linux.go: starting container process caused \"exec: /bin/x\""); err != nil {
			b.Fatal(err)
		}
		unix.Read(fds[1], buf)
	}
}
