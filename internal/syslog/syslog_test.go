package syslog

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestFormatLikeGlibc(t *testing.T) {
	at := time.Date(2024, time.March, 5, 7, 8, 9, 0, time.Local)
	got := string(Format(Err, at, "conmon", "conmon abc <error>: boom"))
	want := "<11>Mar  5 07:08:09 conmon: conmon abc <error>: boom"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(Format(Info, at, "x", "")); got != "<14>Mar  5 07:08:09 x: " {
		t.Fatalf("info record %q", got)
	}
}

var recRe = regexp.MustCompile(`(?s)^<(\d+)>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d tag: (.*)$`)

func TestSendDatagram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	w := New(path, "tag")
	defer w.Close()
	for i, msg := range []string{"first", "second\nline"} {
		pri := Info
		if i == 1 {
			pri = Err
		}
		if err := w.Send(pri, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := l.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		m := recRe.FindSubmatch(buf[:n])
		if m == nil {
			t.Fatalf("record %q not in syslog(3) format", buf[:n])
		}
		wantPri := map[int]string{Info: "14", Err: "11"}[pri]
		if string(m[1]) != wantPri || string(m[2]) != msg {
			t.Fatalf("record %q: priority %s message %q, want %s %q", buf[:n], m[1], m[2], wantPri, msg)
		}
	}
}

// A syslogd that was restarted replaced its socket: the next message must
// reach the new one through a fresh connection.
func TestSendReconnectsAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	listen := func() *net.UnixConn {
		l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := listen()
	w := New(path, "tag")
	defer w.Close()
	if err := w.Send(Info, "one"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.Remove(path) // syslogd unlinks and binds anew
	l = listen()
	defer l.Close()
	if err := w.Send(Info, "two"); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	buf := make([]byte, 4096)
	l.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := l.Read(buf)
	if err != nil || !bytes.HasSuffix(buf[:n], []byte("tag: two")) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

func TestSendStreamSocketNulTerminated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	w := New(path, "tag")
	defer w.Close()
	if err := w.Send(Info, "over a stream"); err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(buf[:n], []byte("tag: over a stream\x00")) {
		t.Fatalf("stream record %q lacks the NUL terminator", buf[:n])
	}
}

func TestSendMissingSocketFails(t *testing.T) {
	w := New(filepath.Join(t.TempDir(), "absent"), "tag")
	if err := w.Send(Info, "lost"); err == nil {
		t.Fatal("send to a missing socket succeeded")
	}
}

// A syslog daemon that stops reading must not hang the sender: once the
// socket's queue is full, sends fail instead of blocking.
func TestSendDoesNotBlockOnStuckDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // never read from
	w := New(path, "shimtest")
	defer w.Close()
	done := make(chan int)
	go func() {
		failed := 0
		// Far more than a datagram queue holds; stop at the first refusal.
		for i := 0; i < 1000 && failed == 0; i++ {
			if w.Send(3, "stuck daemon") != nil {
				failed++
			}
		}
		done <- failed
	}()
	select {
	case failed := <-done:
		if failed == 0 {
			t.Fatal("every send to a daemon that never reads succeeded: the queue never filled, the test proves nothing")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Send blocked on a syslog socket nobody reads")
	}
}
