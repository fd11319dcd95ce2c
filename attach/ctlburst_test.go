package attach

import (
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/diag"
	"github.com/shim-project/shim/internal/testutil"
)

// After a burst the reader arms a deadline; when it expires Quiet runs
// once and the reader goes on serving messages, with no deadline left;
// a few messages are no burst.
func TestCtlBurstThenQuietThenMore(t *testing.T) {
	ev, log := &events{}, &testLog{}
	f, err := OpenFIFOs(FIFOOptions{Bundle: t.TempDir(), Reopen: func() { ev.add("reopen") },
		Quiet: func() { ev.add("quiet") }, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var want []string
	var burst strings.Builder
	for range 1000 {
		burst.WriteString("2 0 0\n")
		want = append(want, "reopen")
	}
	writeFIFO(t, f.CtlPath(), burst.String())
	testutil.Eventually(t, 10*time.Second, "1000 reopens", func() bool { return len(ev.get()) >= 1000 })
	time.Sleep(3 * releaseDelay) // quiet: the deadline fires
	writeFIFO(t, f.CtlPath(), "2 0 0\n")
	want = append(want, "quiet", "reopen")
	waitEvents(t, ev, want...)
	time.Sleep(3 * releaseDelay) // no deadline without a new burst: nothing happens
	writeFIFO(t, f.CtlPath(), "2 0 0\n")
	waitEvents(t, ev, append(want, "reopen")...)
	if w := log.warnings(); len(w) != 0 {
		t.Fatalf("warnings: %q", w)
	}
}

// A ctl message allocates nothing in the handler when its log lines are
// off (the default level): no garbage, so no collection.
func TestCtlLineAllocatesNothing(t *testing.T) {
	lg := diag.New(diag.Options{})
	f := &FIFOs{log: lg, debug: debugEnabled(lg)}
	h := &ctlHandler{log: lg, info: infoEnabled(lg), resize: f.queueResize, reopen: func() {}}
	for _, line := range []string{"2 0 0", "1 24 80"} {
		b := []byte(line)
		if a := testing.AllocsPerRun(100, func() { h.line(b) }); a != 0 {
			t.Errorf("%q: %v allocations", line, a)
		}
	}
}
