package attach

import (
	"bytes"
	"crypto/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

func TestFraming(t *testing.T) {
	tests := []struct {
		name   string
		stream stream.Stream
		size   int
		want   []int // datagram sizes, stream byte included
	}{
		{"one byte", stream.Stdout, 1, []int{2}},
		{"exactly max", stream.Stderr, 8192, []int{8193}},
		{"max plus one", stream.Stdout, 8193, []int{8193, 2}},
		{"20000 bytes", stream.Stdout, 20000, []int{8193, 8193, 3617}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t, Options{})
			c := connect(t, s, s.opts.Bundle)
			data := pattern(0, tt.size)
			s.Broadcast(tt.stream, data)
			var got []byte
			for i, want := range tt.want {
				d := readDatagram(t, c)
				if len(d) != want {
					t.Fatalf("datagram %d: %d bytes, want %d", i, len(d), want)
				}
				if d[0] != tt.stream.AttachID() {
					t.Fatalf("datagram %d: stream %d, want %d", i, d[0], tt.stream.AttachID())
				}
				got = append(got, d[1:]...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("payload differs from what was broadcast")
			}
		})
	}
}

func TestBroadcastEmptyAndBadStream(t *testing.T) {
	s, log := newServer(t, Options{})
	c := connect(t, s, s.opts.Bundle)
	s.Broadcast(stream.Stdout, nil)
	s.Broadcast(stream.Stream(3), []byte("no stream: must never be sent"))
	s.Broadcast(stream.Stderr, []byte("x"))
	if d := readDatagram(t, c); string(d) != "\x03x" {
		t.Fatalf("first datagram %q, want only the valid one", d)
	}
	if log.count("refusing to send stream 3") != 1 {
		t.Fatalf("no warning for stream 3: %q", log.warnings())
	}
}

func TestBroadcastToThreeClients(t *testing.T) {
	s, _ := newServer(t, Options{})
	var conns []*net.UnixConn
	for range 3 {
		conns = append(conns, connect(t, s, s.opts.Bundle))
	}
	s.Broadcast(stream.Stdout, []byte("hello"))
	s.Broadcast(stream.Stderr, []byte("oops"))
	for i, c := range conns {
		for _, want := range []string{"\x02hello", "\x03oops"} {
			if got := readDatagram(t, c); string(got) != want {
				t.Fatalf("client %d got %q, want %q", i, got, want)
			}
		}
	}
}

func TestOnlyLaterOutputIsDelivered(t *testing.T) {
	s, _ := newServer(t, Options{})
	s.Broadcast(stream.Stdout, []byte("before"))
	c := connect(t, s, s.opts.Bundle)
	s.Broadcast(stream.Stdout, []byte("after"))
	if d := readDatagram(t, c); string(d) != "\x02after" {
		t.Fatalf("got %q, want only output produced after connecting", d)
	}
}

func TestInputForwardedIntact(t *testing.T) {
	sink := &sinkRecorder{}
	s, _ := newServer(t, Options{Stdin: true, Input: sink})
	c := connect(t, s, s.opts.Bundle)
	big := make([]byte, InputBufferSize)
	rand.Read(big)
	for _, msg := range [][]byte{[]byte("ls\n"), big} {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "two writes", func() bool { return len(sink.get()) == 2 })
	w := sink.get()
	if string(w[0]) != "ls\n" || !bytes.Equal(w[1], big) {
		t.Fatalf("sink got writes of %d and %d bytes; want 3 and %d, intact", len(w[0]), len(w[1]), len(big))
	}
}

func TestInputWaitsForTerminal(t *testing.T) {
	s, _ := newServer(t, Options{Terminal: true})
	c := connect(t, s, s.opts.Bundle)
	c.Write([]byte("early"))
	time.Sleep(20 * time.Millisecond) // the datagram is read and held
	sink := &sinkRecorder{}
	s.SetInput(sink)
	testutil.Eventually(t, 5*time.Second, "early input delivered", func() bool { return len(sink.get()) == 1 })
	if got := string(sink.get()[0]); got != "early" {
		t.Fatalf("got %q", got)
	}
}

func TestInputDiscardedWithoutStdin(t *testing.T) {
	sink := &sinkRecorder{}
	var closes atomic.Int32
	s, _ := newServer(t, Options{Input: sink, CloseStdin: func() { closes.Add(1) }})
	c := connect(t, s, s.opts.Bundle)
	c.Write([]byte("ignored"))
	c.CloseWrite()
	s.Broadcast(stream.Stdout, []byte("still here"))
	if d := readDatagram(t, c); string(d) != "\x02still here" {
		t.Fatalf("got %q", d)
	}
	if len(sink.get()) != 0 || closes.Load() != 0 {
		t.Fatalf("input reached the sink (%d writes) or stdin closed (%d) without -i/-t",
			len(sink.get()), closes.Load())
	}
}

func TestHalfCloseClosesStdinOnce(t *testing.T) {
	sink := &sinkRecorder{}
	var closes atomic.Int32
	s, log := newServer(t, Options{Stdin: true, Input: sink, CloseStdin: func() { closes.Add(1) }})
	a := connect(t, s, s.opts.Bundle)
	b := connect(t, s, s.opts.Bundle)
	a.Write([]byte("data"))
	a.CloseWrite()
	testutil.Eventually(t, 5*time.Second, "CloseStdin", func() bool { return closes.Load() == 1 })
	b.CloseWrite()
	time.Sleep(20 * time.Millisecond)
	if n := closes.Load(); n != 1 {
		t.Fatalf("CloseStdin called %d times, want 1", n)
	}
	if w := sink.get(); len(w) != 1 || string(w[0]) != "data" {
		t.Fatalf("sink writes %q; input before EOF must arrive first", w)
	}
	// Output continues to a half-closed client (§8.2).
	s.Broadcast(stream.Stdout, []byte("bye"))
	for _, c := range []*net.UnixConn{a, b} {
		if got := readDatagram(t, c); string(got) != "\x02bye" {
			t.Fatalf("half-closed client got %q", got)
		}
	}
	if log.count("Not closing input") != 0 {
		t.Fatal("logged Not closing input without --leave-stdin-open")
	}
}

func TestLeaveStdinOpen(t *testing.T) {
	sink := &sinkRecorder{}
	var closes atomic.Int32
	s, log := newServer(t, Options{Stdin: true, LeaveStdinOpen: true, Input: sink,
		CloseStdin: func() { closes.Add(1) }})
	a := connect(t, s, s.opts.Bundle)
	a.CloseWrite()
	testutil.Eventually(t, 5*time.Second, "Not closing input", func() bool { return log.count("I: Not closing input") == 1 })
	a.Close()
	// A later client can still send input.
	b := connect(t, s, s.opts.Bundle)
	b.Write([]byte("again"))
	testutil.Eventually(t, 5*time.Second, "input of the second client", func() bool { return len(sink.get()) == 1 })
	if closes.Load() != 0 {
		t.Fatal("CloseStdin called with LeaveStdinOpen")
	}
}

func TestCloseFlushesQueuedOutput(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := connect(t, s, s.opts.Bundle)
	const size = 900 << 10 // well past the socket buffer, within the queue
	s.Broadcast(stream.Stdout, pattern(0, size))
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	if n := expectEOF(t, c); n != size {
		t.Fatalf("client got %d bytes before EOF, want %d", n, size)
	}
	<-done
}

func TestCloseBoundedByStuckClient(t *testing.T) {
	s, _ := newServer(t, Options{FlushTimeout: 300 * time.Millisecond})
	stuck := connect(t, s, s.opts.Bundle)
	s.Broadcast(stream.Stdout, pattern(0, 900<<10)) // queued, never read
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v with a stuck client", d)
	}
	expectEOF(t, stuck)
	// Broadcast after Close is harmless and free.
	s.Broadcast(stream.Stdout, []byte("late"))
}

func TestCloseWithoutClientsAndTwice(t *testing.T) {
	s, _ := newServer(t, Options{})
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("Close without clients took %v", d)
	}
}

func TestBroadcastWithoutClientsDoesNotAllocate(t *testing.T) {
	s, _ := newServer(t, Options{})
	p := pattern(0, 20000)
	if n := testing.AllocsPerRun(1000, func() { s.Broadcast(stream.Stdout, p) }); n != 0 {
		t.Fatalf("%v allocations per Broadcast without clients", n)
	}
}

func TestBroadcastSteadyStateDoesNotAllocate(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := connect(t, s, s.opts.Bundle)
	p := pattern(0, 8192)
	buf := make([]byte, 65536)
	allocs := testing.AllocsPerRun(2000, func() {
		s.Broadcast(stream.Stdout, p)
		c.Read(buf)
	})
	// The count is process-wide (writer goroutine, test client included).
	if allocs > 0.1 {
		t.Fatalf("%v allocations per Broadcast+read with one client", allocs)
	}
}

func TestListenerSocketFlags(t *testing.T) {
	s, _ := newServer(t, Options{})
	rc, err := s.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		typ, _ := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		fl, _ := unix.FcntlInt(fd, unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(fd, unix.F_GETFD, 0)
		if typ != unix.SOCK_SEQPACKET || fl&unix.O_NONBLOCK == 0 || fdfl&unix.FD_CLOEXEC == 0 {
			t.Fatalf("listener type %d, flags %#x, fd flags %#x", typ, fl, fdfl)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(s.Path(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != 0o700 {
		t.Fatalf("socket mode %o, want socket 0700", st.Mode)
	}
}

func BenchmarkBroadcastNoClients(b *testing.B) {
	s, _ := newServer(b, Options{})
	p := pattern(0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		s.Broadcast(stream.Stdout, p)
	}
}

func BenchmarkBroadcastOneClient(b *testing.B) {
	s, _ := newServer(b, Options{})
	c := connect(b, s, s.opts.Bundle)
	p := pattern(0, 8192)
	buf := make([]byte, 65536)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		s.Broadcast(stream.Stdout, p)
		c.Read(buf)
	}
}
