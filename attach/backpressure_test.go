package attach

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// TestStuckClientDroppedAfterStall: one client never reads while another
// keeps up; Broadcast waits for the stuck one once, for StallTimeout, then
// drops it; 100 MiB go out and the reading one receives every byte in order.
func TestStuckClientDroppedAfterStall(t *testing.T) {
	const total = 100 << 20
	const chunk = 64 << 10
	const stall = 300 * time.Millisecond
	s, log := newServer(t, Options{StallTimeout: stall})
	stuck := connect(t, s, s.opts.Bundle)
	reader := connect(t, s, s.opts.Bundle)

	var received atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		readErr <- readPattern(reader, total, func(off int) { received.Store(int64(off)) })
	}()

	start := time.Now()
	var slowest time.Duration
	stalls := 0
	for sent := 0; sent < total; sent += chunk {
		t0 := time.Now()
		s.Broadcast(stream.Stdout, pattern(sent, chunk))
		d := time.Since(t0)
		slowest = max(slowest, d)
		if d >= stall/2 { // the bound counts from the blocked write, a little earlier
			stalls++
		}
	}
	if err := <-readErr; err != nil {
		t.Fatalf("reading client: %v", err)
	}
	elapsed := time.Since(start)
	t.Logf("100 MiB in %v, slowest Broadcast %v", elapsed, slowest)
	if stalls != 1 || elapsed > 20*time.Second {
		t.Fatalf("%d Broadcasts waited the stall bound (want 1); total %v", stalls, elapsed)
	}
	if s.numClients() != 1 || log.count("took no output for 300ms") != 1 {
		t.Fatalf("stuck client not dropped: %d clients, warnings %q", s.numClients(), log.warnings())
	}
	// The stuck client gets what its socket already held, then EOF.
	if n := expectEOF(t, stuck); n == 0 || n > DefaultQueueLimit+(1<<20) {
		t.Fatalf("stuck client saw %d bytes before EOF", n)
	}
}

// TestSlowClientGetsEverything: a client that pauses, for less than the
// stall bound each time, is waited for (conmon's blocking writes) and loses
// nothing, however far it falls behind the producer.
func TestSlowClientGetsEverything(t *testing.T) {
	const total = 8 << 20
	s, log := newServer(t, Options{QueueLimit: minQueueLimit, StallTimeout: 2 * time.Second})
	c := connect(t, s, s.opts.Bundle)
	done := make(chan error, 1)
	go func() {
		next := 1 << 20
		done <- readPattern(c, total, func(off int) {
			if off >= next && off < total { // a consumer that stops now and then
				time.Sleep(200 * time.Millisecond)
				next += 1 << 20
			}
		})
	}()
	for sent := 0; sent < total; sent += 8192 {
		s.Broadcast(stream.Stdout, pattern(sent, 8192))
	}
	if err := <-done; err != nil {
		t.Fatalf("slow client: %v", err)
	}
	if s.numClients() != 1 || len(log.warnings()) != 0 {
		t.Fatalf("slow client dropped: %d clients, warnings %q", s.numClients(), log.warnings())
	}
}

// TestExitingBoundsTheStall: once the container has exited, a stuck client
// holds the data path for FlushTimeout only.
func TestExitingBoundsTheStall(t *testing.T) {
	var exiting atomic.Bool
	s, log := newServer(t, Options{StallTimeout: time.Hour, FlushTimeout: 200 * time.Millisecond,
		Exiting: exiting.Load})
	connect(t, s, s.opts.Bundle)
	s.Broadcast(stream.Stdout, pattern(0, 512<<10)) // queued: no wait
	exiting.Store(true)
	for sent := 0; sent < 4<<20; sent += 8192 {
		s.Broadcast(stream.Stdout, pattern(sent, 8192))
	}
	if s.numClients() != 0 || log.count("took no output for 200ms") != 1 {
		t.Fatalf("stuck client not dropped after FlushTimeout: %d clients, %q", s.numClients(), log.warnings())
	}
}

var errBadData = bytesError("output reordered, lost or oversized")

type bytesError string

func (e bytesError) Error() string { return string(e) }

func TestStuckClientAloneFinishesQuickly(t *testing.T) {
	s, log := newServer(t, Options{StallTimeout: 100 * time.Millisecond})
	connect(t, s, s.opts.Bundle)
	chunk := pattern(0, 64<<10)
	start := time.Now()
	for sent := 0; sent < 100<<20; sent += len(chunk) {
		s.Broadcast(stream.Stdout, chunk)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("100 MiB to a stuck client took %v", d)
	}
	if s.numClients() != 0 || log.count("disconnecting it") != 1 {
		t.Fatalf("stuck client not dropped exactly once: %d left, %q", s.numClients(), log.warnings())
	}
}

// TestStuckClientsStallOnce: three clients that never read hold the data
// path for about one stall bound together, and all three are dropped.
func TestStuckClientsStallOnce(t *testing.T) {
	const stall = 400 * time.Millisecond
	s, log := newServer(t, Options{StallTimeout: stall, QueueLimit: minQueueLimit})
	for range 3 {
		connect(t, s, s.opts.Bundle)
	}
	start := time.Now()
	for sent := 0; s.numClients() > 0; sent += 8192 {
		s.Broadcast(stream.Stdout, pattern(sent, 8192))
		if sent > 64<<20 {
			t.Fatal("stuck clients never dropped")
		}
	}
	d := time.Since(start)
	t.Logf("three stuck clients dropped after %v", d)
	if log.count("disconnecting it") != 3 || d >= 2*stall {
		t.Fatalf("dropped after %v (want about %v): %q", d, stall, log.warnings())
	}
}
