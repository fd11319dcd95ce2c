package logs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// capture records what a limiter lets through.
type capture struct {
	parts   [2][]byte
	markers []Marker
	// cuts counts the lone "\n" parts that close a line cut short.
	order []string
}

func (c *capture) part(s stream.Stream, p []byte) {
	i, _ := s.Index()
	c.parts[i] = append(c.parts[i], p...)
	c.order = append(c.order, fmt.Sprintf("%s:%q", s, p))
}

func (c *capture) marker(m Marker) {
	c.markers = append(c.markers, m)
	c.order = append(c.order, "marker:"+m.Stream.String())
}

func lines(n, size int, tag string) []byte {
	var b bytes.Buffer
	for i := range n {
		line := fmt.Sprintf("%s %d ", tag, i)
		b.WriteString(line + strings.Repeat("x", max(0, size-len(line)-1)) + "\n")
	}
	return b.Bytes()
}

func TestLimiterDropsWholeLines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 1000, Burst: 250}, t0)
	var c capture
	in := lines(10, 100, "out") // 1000 bytes at once: 3 lines fit the burst
	l.Filter(stream.Stdout, in, t0, &c)
	if want := string(in[:300]); string(c.parts[0]) != want {
		t.Fatalf("logged %q, want the first 3 lines", c.parts[0])
	}
	tot := l.Totals()[0]
	if tot.Bytes != 1000 || tot.Logged != 300 || tot.LoggedLines != 3 || tot.Dropped != (DropCount{700, 7}) {
		t.Fatalf("totals %+v", tot)
	}
	// Half a second later there is budget again: the next line is logged.
	// The marker for the drops comes once they are a second old (Due).
	l.Filter(stream.Stdout, []byte("again\n"), t0.Add(500*time.Millisecond), &c)
	if !bytes.HasSuffix(c.parts[0], []byte("again\n")) || len(c.markers) != 0 {
		t.Fatalf("logged %q, markers %+v", c.parts[0], c.markers)
	}
	if _, ok, next := l.Due(t0.Add(500 * time.Millisecond)); ok || next != 500*time.Millisecond {
		t.Fatalf("Due at 0.5 s: %v, next %v", ok, next)
	}
	m, ok, _ := l.Due(t0.Add(time.Second))
	if !ok || m.Dropped != (DropCount{700, 7}) || m.Stream != stream.Stdout {
		t.Fatalf("marker %+v, %v", m, ok)
	}
	if !strings.Contains(m.Text, "dropped 700 bytes, 7 lines") {
		t.Errorf("marker text %q", m.Text)
	}
}

// A line is decided when it starts: its continuation in later chunks
// follows that decision, so the log never holds half a line.
func TestLimiterLineAcrossChunks(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 100, Burst: 100}, t0)
	var c capture
	l.Filter(stream.Stderr, []byte("kept-start "), t0, &c)               // 11 bytes, bucket not in debt
	l.Filter(stream.Stderr, bytes.Repeat([]byte("k"), 120), t0, &c)      // debt, but the line goes on
	l.Filter(stream.Stderr, []byte("end\ndropped line\nno"), t0, &c)     // the next lines start in debt
	l.Filter(stream.Stderr, []byte("pe\n"), t0.Add(10*time.Second), &c)  // the line began dropped
	l.Filter(stream.Stderr, []byte("new\n"), t0.Add(10*time.Second), &c) // a new line, budget back
	want := "kept-start " + strings.Repeat("k", 120) + "end\n" + "new\n"
	if string(c.parts[1]) != want {
		t.Fatalf("logged %q\nwant %q", c.parts[1], want)
	}
	tot := l.Totals()[1]
	if tot.Dropped != (DropCount{Bytes: uint64(len("dropped line\nnope\n")), Lines: 2}) || tot.Bytes != tot.Logged+tot.Dropped.Bytes {
		t.Errorf("totals %+v", tot)
	}
}

// A container that writes without newlines cannot log past the burst: the
// line is cut once the debt exceeds it and closed with an empty entry.
func TestLimiterCutsEndlessLine(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 1 << 10, Burst: 4 << 10}, t0)
	var c capture
	chunk := bytes.Repeat([]byte("z"), 1<<10)
	for range 1024 { // 1 MiB, no newline, no time passing
		l.Filter(stream.Stdout, chunk, t0, &c)
	}
	got := c.parts[0]
	if len(got) > 4<<10+4<<10+1<<10+1 || got[len(got)-1] != '\n' || bytes.Count(got, []byte("\n")) != 1 {
		t.Fatalf("logged %d bytes ending %q", len(got), got[max(0, len(got)-3):])
	}
	tot := l.Totals()[0]
	if tot.Logged+tot.Dropped.Bytes != 1<<20 || tot.Bytes != 1<<20 {
		t.Errorf("totals %+v", tot)
	}
}

// While an episode lasts a marker is due every MarkerInterval, on the
// stream that lost most; Due says when to look again.
func TestLimiterMarkersWhileDropping(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 10, Burst: 10}, t0)
	var c capture
	if _, ok, next := l.Due(t0); ok || next != 0 {
		t.Fatalf("Due without an episode: %v %v", ok, next)
	}
	l.Filter(stream.Stdout, []byte("0123456789ab\n"), t0, &c) // logged, debt
	l.Filter(stream.Stdout, []byte("o\n"), t0, &c)
	l.Filter(stream.Stderr, []byte("eee\neee\n"), t0, &c)
	if _, ok, next := l.Due(t0.Add(300 * time.Millisecond)); ok || next != 700*time.Millisecond {
		t.Fatalf("Due early: ok %v next %v", ok, next)
	}
	m, ok, _ := l.Due(t0.Add(time.Second))
	if !ok || m.Stream != stream.Stderr || m.Dropped != (DropCount{10, 3}) {
		t.Fatalf("marker %+v ok %v", m, ok)
	}
	if _, ok, next := l.Due(t0.Add(2 * time.Second)); ok || next != 0 {
		t.Fatalf("after the marker with no new drops: ok %v next %v", ok, next)
	}
	if _, ok := l.Final(); ok {
		t.Fatal("Final with nothing pending")
	}
	l.Filter(stream.Stdout, bytes.Repeat([]byte("y\n"), 100), t0.Add(3*time.Second), &c)
	if m, ok := l.Final(); !ok || m.Dropped.Lines == 0 {
		t.Fatalf("Final %+v %v", m, ok)
	}
}

func TestLimiterBlock(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 1 << 20, Burst: 64 << 10, Block: true}, t0)
	if d := l.Take(stream.Stdout, make([]byte, 64<<10), t0); d != 0 {
		t.Fatalf("within the burst: pause %v", d)
	}
	if d := l.Take(stream.Stdout, lines(512, 1024, "b"), t0); d != 500*time.Millisecond {
		t.Fatalf("pause %v, want 500ms for 512 KiB at 1 MiB/s", d)
	}
	if d := l.Take(stream.Stderr, nil, t0.Add(500*time.Millisecond)); d != 0 {
		t.Fatalf("after the pause: %v", d)
	}
	if tot := l.Totals(); tot[0].Logged != 576<<10 || tot[0].LoggedLines != 512 || tot[0].Dropped.Bytes != 0 {
		t.Errorf("totals %+v", tot)
	}
}

func FuzzLimiter(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), []byte{0, 1, 5, 200}, uint16(10), uint16(5))
	f.Add(bytes.Repeat([]byte("x"), 300), []byte{3, 3, 3}, uint16(1), uint16(1))
	f.Fuzz(func(t *testing.T, data, steps []byte, rate, burst uint16) {
		if rate == 0 || len(steps) == 0 {
			return
		}
		now := time.Unix(1000, 0)
		l := NewLimiter(Limit{Rate: int64(rate), Burst: int64(burst)}, now)
		var c capture
		var in [2][]byte
		for k := 0; len(data) > 0; k++ {
			st := steps[k%len(steps)]
			n := min(len(data), int(st%64)+1)
			s := stream.Stdout
			if st&0x40 != 0 {
				s = stream.Stderr
			}
			i, _ := s.Index()
			in[i] = append(in[i], data[:n]...)
			l.Filter(s, data[:n], now, &c)
			data = data[n:]
			now = now.Add(time.Duration(st>>7) * 300 * time.Millisecond)
		}
		for i, tot := range l.Totals() {
			if tot.Bytes != uint64(len(in[i])) || tot.Logged+tot.Dropped.Bytes != tot.Bytes {
				t.Fatalf("stream %d: totals %+v for %d bytes in", i, tot, len(in[i]))
			}
			// Every logged line is an input line, whole, in order, or the
			// start of one closed by a lone "\n" (a cut).
			rest := in[i]
			for _, line := range bytes.SplitAfter(c.parts[i], []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				k := bytes.Index(rest, line)
				cut := line[len(line)-1] == '\n' && bytes.Index(rest, line[:len(line)-1]) >= 0
				if k < 0 && !cut {
					t.Fatalf("stream %d logged %q, not in the input %q", i, line, in[i])
				}
				if k >= 0 {
					rest = rest[k+len(line):]
				}
			}
		}
	})
}

// A marker never lands inside a logged line: while the stream that lost
// most is mid-line it goes to the other one, and waits if both are; at
// exit it goes out anyway.
func TestLimiterMarkerRouting(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLimiter(Limit{Rate: 10, Burst: 10}, t0)
	var c capture
	l.Filter(stream.Stdout, []byte("kept, unfinished"), t0, &c) // debt, stdout mid-line
	l.Filter(stream.Stderr, []byte("dropped\n"), t0, &c)
	l.Filter(stream.Stdout, []byte("more"), t0, &c) // same line, still kept
	// stderr lost most but stdout... stderr is the only loser: it gets it.
	if m, ok, _ := l.Due(t0.Add(time.Second)); !ok || m.Stream != stream.Stderr {
		t.Fatalf("marker %+v %v, want on stderr", m, ok)
	}
	l.Filter(stream.Stderr, []byte("kept-err unfinished"), t0.Add(2*time.Second), &c) // stderr mid-line too
	l.Filter(stream.Stdout, []byte("\nlost\nlost\n"), t0.Add(2*time.Second), &c)      // stdout ends its line, then drops
	l.Filter(stream.Stdout, []byte("mid"), t0.Add(5*time.Second), &c)                 // stdout mid-line again (kept)
	if m, ok, next := l.Due(t0.Add(3 * time.Second)); ok || next != MarkerInterval/4 {
		t.Fatalf("both streams mid-line: marker %+v %v, next %v; want it held", m, ok, next)
	}
	m, ok := l.Final()
	if !ok || m.Dropped.Lines != 2 {
		t.Fatalf("final marker %+v %v", m, ok)
	}
}
