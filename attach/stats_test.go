package attach

import (
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// TestStats: clients now and in total, input bytes, and a slow client's
// drop, whose dropped bytes are exactly what it never received.
func TestStats(t *testing.T) {
	sink := &sinkRecorder{}
	s, _ := newServer(t, Options{Stdin: true, Input: sink, QueueLimit: minQueueLimit,
		StallTimeout: 100 * time.Millisecond})
	stuck := connect(t, s, s.opts.Bundle)
	c := connect(t, s, s.opts.Bundle)
	if _, err := c.Write([]byte("input\n")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "input", func() bool { return len(sink.get()) == 1 })
	if got := s.Stats(); got != (Stats{Clients: 2, Accepted: 2, InputBytes: 6}) {
		t.Fatalf("stats %+v", got)
	}

	// Only c reads, and in lockstep, so that stuck alone falls behind.
	got := make(chan int)
	go func() {
		buf := make([]byte, maxFrame)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- n - 1
		}
	}()
	chunk := pattern(0, 4096)
	sent := 0
	for s.Stats().SlowDisconnects == 0 {
		s.Broadcast(stream.Stdout, chunk)
		sent += len(chunk)
		if n := <-got; n != len(chunk) {
			t.Fatalf("reading client got %d bytes, want %d", n, len(chunk))
		}
		if sent > 64<<20 {
			t.Fatal("stuck client never dropped")
		}
	}
	st := s.Stats()
	if st.Clients != 1 || st.Accepted != 2 || st.SlowDisconnects != 1 {
		t.Fatalf("after the drop: %+v", st)
	}
	delivered := expectEOF(t, stuck)
	// The drop is final once the stuck client's writer has stopped.
	testutil.Eventually(t, 5*time.Second, "dropped bytes to settle", func() bool {
		return delivered+int(s.Stats().SlowDroppedBytes) == sent
	})
}
