package attach

import (
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

func TestCtlBurstCounting(t *testing.T) {
	var b ctlBurst
	collects := 0
	for range 2000 {
		if b.handled(1) {
			collects++
		}
	}
	if collects != 2000/ctlCollectEvery || !b.pending {
		t.Fatalf("%d collections, pending %v", collects, b.pending)
	}
	var small ctlBurst
	for range burstClients - 1 {
		small.handled(1)
	}
	if small.pending {
		t.Fatal("a release is due after fewer than burstClients messages")
	}
}

// After a burst the reader arms a deadline; when it expires the memory is
// released and the reader goes on serving messages, with no deadline left.
func TestCtlBurstThenQuietThenMore(t *testing.T) {
	f, ev, log := openTestFIFOs(t, false)
	var want []string
	var burst strings.Builder
	for range 1000 {
		burst.WriteString("2 0 0\n")
		want = append(want, "reopen")
	}
	writeFIFO(t, f.CtlPath(), burst.String())
	testutil.Eventually(t, 10*time.Second, "1000 reopens", func() bool { return len(ev.get()) >= 1000 })
	time.Sleep(3 * releaseDelay) // quiet: the deadline fires, memory goes back
	writeFIFO(t, f.CtlPath(), "2 0 0\n")
	waitEvents(t, ev, append(want, "reopen")...)
	time.Sleep(3 * releaseDelay) // no deadline without a new burst: nothing happens
	writeFIFO(t, f.CtlPath(), "2 0 0\n")
	waitEvents(t, ev, append(want, "reopen", "reopen")...)
	if w := log.warnings(); len(w) != 0 {
		t.Fatalf("warnings: %q", w)
	}
}
