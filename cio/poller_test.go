package cio

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// collector is a sink that records what it gets, chunk by chunk.
type collector struct {
	mu     sync.Mutex
	data   [3]bytes.Buffer // by stream
	seq    []string        // "stream:chunk" in arrival order
	chunks int
	max    int
}

func (c *collector) sink(s stream.Stream, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[s].Write(p)
	c.seq = append(c.seq, fmt.Sprintf("%d:%s", s, p))
	c.chunks++
	c.max = max(c.max, len(p))
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data[stream.Stdout].Len() + c.data[stream.Stderr].Len()
}

func (c *collector) sequence() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seq...)
}

func pipe(t testing.TB) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func newPoller(t testing.TB, sink func(stream.Stream, []byte)) *Poller {
	t.Helper()
	p, err := NewPoller(sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func add(t testing.TB, p *Poller, f *os.File, s stream.Stream, tty bool) {
	t.Helper()
	if err := p.Add(f, s, tty); err != nil {
		t.Fatal(err)
	}
}

// stdPipes adds a stdout and a stderr pipe to p and returns their write ends.
func stdPipes(t testing.TB, p *Poller) (wo, we *os.File) {
	t.Helper()
	ro, wo := pipe(t)
	re, we := pipe(t)
	add(t, p, ro, stream.Stdout, false)
	add(t, p, re, stream.Stderr, false)
	return wo, we
}

func write(t testing.TB, w *os.File, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func waitDone(t testing.TB, p *Poller, what string) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("poller did not end: %s", what)
	}
}

func pipeSizeOf(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPollerGrowsPipe: a pipe is grown to pipeSize where the kernel does not
// charge the user for it (root outside a user namespace), and left as it is
// otherwise.
func TestPollerGrowsPipe(t *testing.T) {
	r, _ := pipe(t)
	before := pipeSizeOf(t, r)
	add(t, newPoller(t, (&collector{}).sink), r, stream.Stdout, false)
	want := before
	if mayGrowPipes() {
		want = pipeSize
	}
	if got := pipeSizeOf(t, r); got != want {
		t.Errorf("pipe size %d, want %d (may grow: %v)", got, want, mayGrowPipes())
	}
}

// TestPollerCopiesEverything: everything written to two pipes at once
// arrives, in order within each stream, in chunks of at most ReadSize, and
// the poller ends once both are at EOF.
func TestPollerCopiesEverything(t *testing.T) {
	c := &collector{}
	p := newPoller(t, c.sink)
	var want [3]bytes.Buffer
	var wg sync.WaitGroup
	for _, s := range []stream.Stream{stream.Stdout, stream.Stderr} {
		r, w := pipe(t)
		add(t, p, r, s, false)
		for i := 0; i < 2000; i++ {
			line := bytes.Repeat([]byte{byte('a' + (i+int(s))%26)}, i%700)
			want[s].Write(append(line, '\n'))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			b := want[s].Bytes()
			for len(b) > 0 {
				n := min(len(b), 1+len(b)%5000)
				if _, err := w.Write(b[:n]); err != nil {
					t.Error(err)
					return
				}
				b = b[n:]
			}
		}()
	}
	p.Start()
	wg.Wait()
	waitDone(t, p, "at EOF of both pipes")
	for _, s := range []stream.Stream{stream.Stdout, stream.Stderr} {
		if !bytes.Equal(c.data[s].Bytes(), want[s].Bytes()) {
			t.Errorf("stream %d: got %d bytes, want %d (or they differ)", s, c.data[s].Len(), want[s].Len())
		}
	}
	if c.max > ReadSize {
		t.Fatalf("a chunk of %d bytes, want at most %d", c.max, ReadSize)
	}
}

// TestPollerEOF: an fd at EOF is dropped and the others go on; the poller
// ends with the last one.
func TestPollerEOF(t *testing.T) {
	c := &collector{}
	p := newPoller(t, c.sink)
	w1, w2 := stdPipes(t, p)
	p.Start()
	write(t, w1, "last out")
	w1.Close()
	time.Sleep(20 * time.Millisecond) // the poller sees stdout's EOF
	write(t, w2, "err after out's EOF")
	testutil.Eventually(t, 10*time.Second, "stderr output", func() bool { return c.len() == len("last out")+len("err after out's EOF") })
	select {
	case <-p.Done():
		t.Fatal("poller ended while stderr is open")
	case <-time.After(50 * time.Millisecond):
	}
	w2.Close()
	waitDone(t, p, "at EOF of both pipes")
}

// TestPollerOrder: a writer alternating between stdout and stderr, with a
// short pause after each write, is read in exactly the order it wrote.
func TestPollerOrder(t *testing.T) {
	c := &collector{}
	p := newPoller(t, c.sink)
	wo, we := stdPipes(t, p)
	p.Start()
	var want []string
	for i := 0; i < 300; i++ {
		w, s := wo, stream.Stdout
		if i%2 == 1 || i%7 == 0 { // not strictly alternating
			w, s = we, stream.Stderr
		}
		line := fmt.Sprintf("line %d\n", i)
		write(t, w, line)
		want = append(want, fmt.Sprintf("%d:%s", s, line))
		time.Sleep(200 * time.Microsecond)
	}
	wo.Close()
	we.Close()
	waitDone(t, p, "at EOF")
	if got := c.sequence(); strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("sink saw\n%q\nwant\n%q", got, want)
	}
}

// TestPollerOrderServedFdRequeued: output written while the poller is busy
// with a chunk queues behind the stream it came after. The sink writes
// "err 0" and then "out 1" while it handles "out 0": stdout was just
// served, yet it became ready again after stderr, so stderr comes first.
// (With level-triggered registration stdout kept its place in the ready
// list and was read first.)
func TestPollerOrderServedFdRequeued(t *testing.T) {
	ro, wo := pipe(t)
	re, we := pipe(t)
	var seq []string
	p := newPoller(t, func(s stream.Stream, b []byte) {
		seq = append(seq, string(b))
		if string(b) == "out 0" {
			write(t, we, "err 0")
			write(t, wo, "out 1")
			wo.Close()
			we.Close()
		}
	})
	add(t, p, ro, stream.Stdout, false)
	add(t, p, re, stream.Stderr, false)
	p.Start()
	write(t, wo, "out 0")
	waitDone(t, p, "at EOF")
	if got := strings.Join(seq, ","); got != "out 0,err 0,out 1" {
		t.Fatalf("sink saw %s, want out 0,err 0,out 1", got)
	}
}

// TestPollerStopsUnderLoad: Halt works while the writer never lets the
// pipe run empty: the poller looks at it after every chunk.
func TestPollerStopsUnderLoad(t *testing.T) {
	r, w := pipe(t)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		buf := bytes.Repeat([]byte("x"), 4096)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}()
	c := &collector{}
	p := newPoller(t, c.sink)
	add(t, p, r, stream.Stdout, false)
	p.Start()
	testutil.Eventually(t, 10*time.Second, "1 MiB of output", func() bool { return c.len() >= 1<<20 })
	halted := make(chan struct{})
	go func() { p.Halt(); close(halted) }()
	select {
	case <-halted:
	case <-time.After(10 * time.Second):
		t.Fatal("Halt did not return while output kept coming")
	}
}

// TestPollerHaltLeavesData: Halt wakes the waiting goroutine, and what is
// written afterwards stays in the pipe.
func TestPollerHaltLeavesData(t *testing.T) {
	r, w := pipe(t)
	c := &collector{}
	p := newPoller(t, c.sink)
	add(t, p, r, stream.Stdout, false)
	p.Start()
	write(t, w, "before")
	testutil.Eventually(t, 10*time.Second, "the first write", func() bool { return c.len() == len("before") })
	p.Halt()
	waitDone(t, p, "after Halt")
	write(t, w, "after")
	time.Sleep(20 * time.Millisecond)
	if n := c.len(); n != len("before") {
		t.Fatalf("sink got %d bytes, want only %q", n, "before")
	}
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "after" {
		t.Fatalf("pipe holds %q (%v), want %q", buf[:n], err, "after")
	}
}

// TestPollerDrainOrdered: Drain reads what was left after Halt in the order
// it became ready, not in the order the fds were added, and does not wait
// for writers that are still there.
func TestPollerDrainOrdered(t *testing.T) {
	for _, first := range []stream.Stream{stream.Stdout, stream.Stderr} {
		t.Run(fmt.Sprint(first), func(t *testing.T) {
			c := &collector{}
			p := newPoller(t, c.sink)
			wo, we := stdPipes(t, p)
			p.Start()
			p.Halt()
			w := map[stream.Stream]*os.File{stream.Stdout: wo, stream.Stderr: we}
			second := stream.Stdout + stream.Stderr - first
			write(t, w[first], "a")
			write(t, w[second], "b")
			write(t, w[first], "c")
			t0 := time.Now()
			// A limit far beyond what draining takes: Drain must return
			// when the pipes are empty, not when the limit is reached.
			p.Drain(20 * time.Second)
			if d := time.Since(t0); d > 10*time.Second {
				t.Errorf("Drain took %v with the writers still open", d)
			}
			want := fmt.Sprintf("%d:ac,%d:b", first, second)
			if got := strings.Join(c.sequence(), ","); got != want {
				t.Fatalf("drained %s, want %s", got, want)
			}
		})
	}
}

// TestPollerDrainBounded: a writer that never stops cannot hold Drain past
// its limit, for both fds together. Here the sink is the writer: every
// chunk it gets is written back, so the pipes never run empty.
func TestPollerDrainBounded(t *testing.T) {
	var w [3]*os.File
	var chunks int
	p := newPoller(t, func(s stream.Stream, b []byte) {
		chunks++
		if _, err := w[s].Write(b[:min(len(b), 4096)]); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Millisecond)
	})
	for _, s := range []stream.Stream{stream.Stdout, stream.Stderr} {
		var r *os.File
		r, w[s] = pipe(t)
		add(t, p, r, s, false)
		write(t, w[s], "start")
	}
	p.Start()
	p.Halt()
	const limit = 200 * time.Millisecond
	t0 := time.Now()
	p.Drain(limit)
	if d := time.Since(t0); d < limit || d > limit+5*time.Second {
		t.Fatalf("Drain(%v) took %v with the pipes never empty", limit, d)
	}
	t.Logf("%d chunks", chunks)
}

// TestPollerNoFdLeak: a poller's life leaves no fd behind.
func TestPollerNoFdLeak(t *testing.T) {
	before := testutil.OpenFds(t)
	for i := 0; i < 3; i++ {
		ro, wo, _ := os.Pipe()
		re, we, _ := os.Pipe()
		p, err := NewPoller((&collector{}).sink)
		if err != nil {
			t.Fatal(err)
		}
		add(t, p, ro, stream.Stdout, false)
		add(t, p, re, stream.Stderr, false)
		p.Start()
		write(t, wo, "x")
		write(t, we, "y")
		p.Drain(time.Second)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		for _, f := range []*os.File{ro, wo, re, we} {
			f.Close()
		}
	}
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("%d fds open after, %d before", after, before)
	}
}

// TestPollerNoAllocPerChunk: in steady state a chunk costs no allocation,
// whether it arrives after the poller parked (a wake-up) or not.
func TestPollerNoAllocPerChunk(t *testing.T) {
	r, w := pipe(t)
	got := make(chan struct{}, 1)
	p := newPoller(t, func(stream.Stream, []byte) { got <- struct{}{} })
	add(t, p, r, stream.Stdout, false)
	p.Start()
	line := []byte("a line of output\n")
	round := func() {
		if _, err := unix.Write(int(w.Fd()), line); err != nil {
			t.Fatal(err)
		}
		<-got
	}
	for i := 0; i < 100; i++ {
		round()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 1000
	for i := 0; i < n; i++ {
		round()
	}
	runtime.ReadMemStats(&after)
	if d := after.Mallocs - before.Mallocs; d > n/100 {
		t.Errorf("%d allocations for %d chunks", d, n)
	}
}

func (c *collector) data0() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data[stream.Stdout].String()
}

// TestPollerOnWake: the wake hook runs ahead of the first chunk after each
// wait, not ahead of every chunk: the sink accepts pending attach clients
// there, which costs a syscall.
func TestPollerOnWake(t *testing.T) {
	var mu sync.Mutex
	var seq []string
	note := func(s string) { mu.Lock(); seq = append(seq, s); mu.Unlock() }
	got := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(seq, " ") }
	p := newPoller(t, func(_ stream.Stream, c []byte) { note(string(c)) })
	p.OnWake(func() { note("wake") })
	r, w := pipe(t)
	add(t, p, r, stream.Stdout, false)
	p.Start()
	write(t, w, "a")
	testutil.Eventually(t, 10*time.Second, "the first chunk", func() bool { return got() == "wake a" })
	write(t, w, "b")
	testutil.Eventually(t, 10*time.Second, "the second chunk", func() bool { return got() == "wake a wake b" })
}

// TestPollerQuiet: once output pauses after a burst, the read buffer's
// pages go back and OnQuiet runs, once per pause: not while the output
// goes on, and never while the poller is idle. Output after a pause is read
// as before.
func TestPollerQuiet(t *testing.T) {
	var c collector
	p := newPoller(t, c.sink)
	p.quietAfter = 50 * time.Millisecond
	type look struct{ released bool }
	quiet := make(chan look, 10)
	p.OnQuiet(func() {
		s := &p.srcs[0] // on the poller's goroutine
		quiet <- look{released: s.buf == nil && !s.page.Resident()}
	})
	r, w := pipe(t)
	add(t, p, r, stream.Stdout, false)
	p.Start()
	select {
	case <-quiet:
		t.Fatal("OnQuiet ran before any output")
	case <-time.After(4 * p.quietAfter):
	}
	// A burst that lasts several quiet periods: one call, after it ends.
	start := time.Now()
	for time.Since(start) < 6*p.quietAfter {
		write(t, w, "x")
		time.Sleep(p.quietAfter / 10)
	}
	ended := time.Now()
	var l look
	select {
	case l = <-quiet:
	case <-time.After(10 * time.Second):
		t.Fatal("OnQuiet did not run after the burst")
	}
	if since := time.Since(ended); since < p.quietAfter/2 {
		t.Errorf("OnQuiet ran %v after the burst ended, while it went on", since)
	}
	if !l.released {
		t.Error("the read buffer was still resident in OnQuiet")
	}
	select {
	case <-quiet:
		t.Fatal("OnQuiet ran again while the poller was idle")
	case <-time.After(4 * p.quietAfter):
	}
	n := c.len()
	write(t, w, "after the pause")
	testutil.Eventually(t, 10*time.Second, "output after the pause", func() bool {
		return strings.HasSuffix(c.data0(), "after the pause") && c.len() == n+len("after the pause")
	})
	select {
	case <-quiet:
	case <-time.After(10 * time.Second):
		t.Fatal("OnQuiet did not run after the second burst")
	}
}
