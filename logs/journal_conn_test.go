package logs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// TestJournalWaitsForQueue: more entries than journald's receive queue
// holds (net.unix.max_dgram_qlen) are sent while nobody reads; the sender
// waits (in sendWait steps, letting other goroutines run), and once the
// reader reads every entry arrives, in order.
func TestJournalWaitsForQueue(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	qlen := 512
	if b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen"); err == nil {
		if n, err := strconv.Atoi(string(b[:len(b)-1])); err == nil {
			qlen = n
		}
	}
	n := 3*qlen + 10
	done := make(chan error, 1)
	// Nobody reads until the sender has waited out at least one sendWait.
	go func() {
		for i := 0; i < n; i++ {
			if err := j.Write(stream.Stdout, []byte(strconv.Itoa(i)+"\n")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	testutil.Eventually(t, 10*time.Second, "the sender to find the queue full", func() bool { return j.conn.retries.Load() != 0 })
	for i := 0; i < n; i++ {
		if fs := s.entry(t); fs[0].value != strconv.Itoa(i)+"\n" {
			t.Fatalf("entry %d is %q", i, fs[0].value)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestJournalReconnects: a restarted journald has a new socket at the same
// path; the next entry reaches it.
func TestJournalReconnects(t *testing.T) {
	s := &fakeJournal{path: filepath.Join(t.TempDir(), "socket")}
	old, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(old, &unix.SockaddrUnix{Name: s.path}); err != nil {
		t.Fatal(err)
	}
	j := newTestJournal(t, s, JournalOptions{})
	if err := j.Write(stream.Stdout, []byte("before\n")); err != nil {
		t.Fatal(err)
	}
	unix.Close(old) // journald goes away...
	os.Remove(s.path)
	s.listen(t) // ...and comes back
	if err := j.Write(stream.Stdout, []byte("after\n")); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
	if fs := s.entry(t); fs[0].value != "after\n" {
		t.Fatalf("got %q", fs[0].value)
	}
}

// TestJournalNoFdLeak: sends, memfd sends and Close leave no fd behind.
func TestJournalNoFdLeak(t *testing.T) {
	s := newFakeJournal(t)
	before := testutil.OpenFds(t)
	j, err := NewJournal(JournalOptions{Socket: s.path, ContainerID: testCID})
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(j.conn.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1024); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := j.Write(stream.Stdout, []byte("small\n")); err != nil {
			t.Fatal(err)
		}
		s.entry(t)
		if err := j.Write(stream.Stdout, append(bytes.Repeat([]byte{'m'}, maxContent-1), '\n')); err != nil {
			t.Fatal(err)
		}
		if _, viaMemfd := s.recv(t); !viaMemfd {
			t.Fatal("big entry did not go through a memfd")
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("fds before %d, after %d", before, after)
	}
}
