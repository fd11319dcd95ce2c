package attach

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// stormAddr is the address of s's socket for raw connects, through an O_PATH
// fd of the bundle (podman's way, any path length).
func stormAddr(t testing.TB, s *Server) *unix.SockaddrUnix {
	t.Helper()
	dfd, err := unix.Open(s.opts.Bundle, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", s.opts.Bundle, err)
	}
	t.Cleanup(func() { unix.Close(dfd) })
	return &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/attach"}
}

// rawConnect connects to addr without the runtime poller; the caller closes.
func rawConnect(t testing.TB, addr *unix.SockaddrUnix) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	if err := unix.Connect(fd, addr); err != nil {
		unix.Close(fd)
		t.Fatalf("connect %s: %v", addr.Name, err)
	}
	return fd
}

// settledGoroutines is the goroutine count once what earlier tests left
// winding down has ended: the same count for 100 ms (at most 2 s).
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// TestConnectStormLeavesNothing: clients that connect and close, with no
// output ever broadcast, are noticed and dropped (issue 11: they lingered
// until a write failed, each with goroutines of its own), and the
// monitor's goroutines and fds go back to where they were. One connection
// at a time, the dropped clients are reused: the storm allocates next to
// nothing, so there is nothing to give back.
func TestConnectStormLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no stdin", Options{}},
		{"stdin", Options{Stdin: true, Input: &sinkRecorder{}}},
		{"tty", Options{Terminal: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 2000
			var closes, releases atomic.Int32
			opts := tc.opts
			opts.CloseStdin = func() { closes.Add(1) }
			opts.ReleaseMemory = func() { releases.Add(1) }
			s, _ := newServer(t, opts)
			addr := stormAddr(t, s)
			goroutines, fds := settledGoroutines(), testutil.OpenFds(t)
			for range n {
				unix.Close(rawConnect(t, addr))
			}
			testutil.Eventually(t, 10*time.Second, "every client dropped", func() bool {
				return s.Stats().Accepted == n && s.numClients() == 0
			})
			s.mu.Lock()
			allocated := s.burst
			s.mu.Unlock()
			if allocated > 2*keepSpare {
				t.Fatalf("%d clients allocated for %d connections one at a time", allocated, n)
			}
			if !testutil.Within(5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines }) {
				t.Fatalf("%d goroutines after the storm, %d before", runtime.NumGoroutine(), goroutines)
			}
			if got := testutil.OpenFds(t); got != fds {
				t.Fatalf("%d fds open after the storm, %d before", got, fds)
			}
			want := int32(0) // -i: the first EOF closes the container's stdin
			if opts.Stdin {
				want = 1
			}
			if closes.Load() != want {
				t.Fatalf("CloseStdin called %d times, want %d", closes.Load(), want)
			}
		})
	}
}

// TestHeldStormReleasesMemory: many clients at once cannot be reused; once
// the last has gone, memory is given back once, and fds and goroutines are
// back where they were.
func TestHeldStormReleasesMemory(t *testing.T) {
	const n = 2 * burstClients
	var releases atomic.Int32
	s, _ := newServer(t, Options{ReleaseMemory: func() { releases.Add(1) }})
	addr := stormAddr(t, s)
	goroutines, fds := settledGoroutines(), testutil.OpenFds(t)
	var conns []int
	for range n {
		conns = append(conns, rawConnect(t, addr))
	}
	testutil.Eventually(t, 10*time.Second, "all clients accepted", func() bool { return s.numClients() == n })
	for _, fd := range conns {
		unix.Close(fd)
	}
	testutil.Eventually(t, 10*time.Second, "every client dropped", func() bool { return s.numClients() == 0 })
	testutil.Eventually(t, 5*time.Second, "memory released after the burst", func() bool { return releases.Load() == 1 })
	if !testutil.Within(5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines }) {
		t.Fatalf("%d goroutines after the storm, %d before", runtime.NumGoroutine(), goroutines)
	}
	if got := testutil.OpenFds(t); got != fds {
		t.Fatalf("%d fds open after the storm, %d before", got, fds)
	}
	time.Sleep(2 * releaseDelay)
	if releases.Load() != 1 {
		t.Fatalf("memory released %d times for one burst", releases.Load())
	}
}

// TestIdleClientsCostNoGoroutine: clients that are connected and have
// nothing to receive cost no goroutine; one appears while output is queued.
func TestIdleClientsCostNoGoroutine(t *testing.T) {
	s, _ := newServer(t, Options{})
	goroutines := settledGoroutines()
	var conns []int
	addr := stormAddr(t, s)
	for range 200 {
		conns = append(conns, rawConnect(t, addr))
	}
	defer func() {
		for _, fd := range conns {
			unix.Close(fd)
		}
	}()
	testutil.Eventually(t, 5*time.Second, "200 clients", func() bool { return s.numClients() == 200 })
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Fatalf("%d goroutines with 200 idle clients, %d with none", got, goroutines)
	}
	s.Broadcast(stream.Stdout, []byte("hello"))
	for i, fd := range conns {
		buf := make([]byte, 64)
		n, err := unix.Read(fd, buf)
		if err != nil || string(buf[:n]) != "\x02hello" {
			t.Fatalf("client %d: %q, %v", i, buf[:max(n, 0)], err)
		}
	}
	// The writers end once they have had nothing to write for a while.
	testutil.Eventually(t, 5*time.Second, "writers gone", func() bool {
		return runtime.NumGoroutine() <= goroutines
	})
}

// TestHangupAfterHalfClose: a client that shut down its write side keeps
// getting output (§8.2); when it then closes, it is dropped without any
// output having to fail first.
func TestHangupAfterHalfClose(t *testing.T) {
	s, _ := newServer(t, Options{Stdin: true, Input: &sinkRecorder{}})
	c := connect(t, s, s.opts.Bundle)
	c.CloseWrite()
	time.Sleep(50 * time.Millisecond) // the EOF is seen; the client stays
	if s.numClients() != 1 {
		t.Fatal("a half-closed client was dropped")
	}
	s.Broadcast(stream.Stdout, []byte("still"))
	if d := readDatagram(t, c); string(d) != "\x02still" {
		t.Fatalf("half-closed client got %q", d)
	}
	c.Close()
	testutil.Eventually(t, 5*time.Second, "closed client dropped", func() bool { return s.numClients() == 0 })
}

// TestInputThenCloseDelivered: a client that sends and closes at once has
// all of its input delivered, then stdin closed, and is dropped.
func TestInputThenCloseDelivered(t *testing.T) {
	sink := &sinkRecorder{}
	var closes atomic.Int32
	s, _ := newServer(t, Options{Stdin: true, Input: sink, CloseStdin: func() { closes.Add(1) }})
	addr := stormAddr(t, s)
	fd := rawConnect(t, addr)
	for i := range 5 {
		if _, err := unix.Write(fd, []byte(fmt.Sprintf("line %d\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	unix.Close(fd)
	testutil.Eventually(t, 5*time.Second, "client dropped after its input", func() bool {
		return s.numClients() == 0 && closes.Load() == 1
	})
	var got bytes.Buffer
	for _, w := range sink.get() {
		got.Write(w)
	}
	if want := "line 0\nline 1\nline 2\nline 3\nline 4\n"; got.String() != want {
		t.Fatalf("stdin got %q, want %q", got.String(), want)
	}
}

// TestStormDuringOutput: while clients come and go by the thousand, a
// client that stays receives every byte, in order.
func TestStormDuringOutput(t *testing.T) {
	s, _ := newServer(t, Options{})
	c := connect(t, s, s.opts.Bundle)
	addr := stormAddr(t, s)
	stop := make(chan struct{})
	stormDone := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				stormDone <- n
				return
			default:
			}
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
			if err == nil && unix.Connect(fd, addr) == nil {
				n++
			}
			unix.Close(fd)
		}
	}()
	const total = 8 << 20
	readErr := make(chan error, 1)
	go func() { readErr <- readPattern(c, total, nil) }()
	for sent := 0; sent < total; sent += 4096 {
		s.Broadcast(stream.Stdout, pattern(sent, 4096))
	}
	if err := <-readErr; err != nil {
		t.Fatalf("staying client: %v", err)
	}
	close(stop)
	t.Logf("%d connections came and went during 8 MiB of output", <-stormDone)
	testutil.Eventually(t, 10*time.Second, "only the staying client left", func() bool { return s.numClients() == 1 })
}

// BenchmarkAttachStorm is one connect-and-close (until the monitor has
// dropped the client) with `held` other clients connected: the cost must
// not grow with them (issue 11: every accept and removal copied the list).
func BenchmarkAttachStorm(b *testing.B) {
	for _, held := range []int{0, 1000, 5000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			s, _ := newServer(b, Options{ReleaseMemory: func() {}})
			addr := stormAddr(b, s)
			for range held {
				fd := rawConnect(b, addr)
				b.Cleanup(func() { unix.Close(fd) })
			}
			testutil.Eventually(b, 30*time.Second, "held clients", func() bool { return s.numClients() == held })
			b.ResetTimer()
			for b.Loop() {
				unix.Close(rawConnect(b, addr))
			}
			testutil.Eventually(b, 30*time.Second, "storm clients dropped", func() bool { return s.numClients() == held })
		})
	}
}
