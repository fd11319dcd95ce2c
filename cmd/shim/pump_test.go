package main

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/logs"
)

// collector is a sink that records what it gets.
type collector struct {
	mu     sync.Mutex
	data   bytes.Buffer
	chunks int
	max    int
}

func (c *collector) sink(s logs.Stream, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data.Write(p)
	c.chunks++
	c.max = max(c.max, len(p))
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data.Len()
}

func pipeSizeOf(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPumpGrowsPipe: the pipe is grown to pipeSize where the kernel does
// not charge the user for it (root outside a user namespace), and left as
// it is otherwise.
func TestPumpGrowsPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := pipeSizeOf(t, r)
	c := &collector{}
	p := startPump(r, logs.Stdout, false, c.sink)
	want := before
	if mayGrowPipes() {
		want = pipeSize
	}
	if got := pipeSizeOf(t, r); got != want {
		t.Errorf("pipe size %d, want %d (may grow: %v)", got, want, mayGrowPipes())
	}
	w.Close()
	<-p.done
}

// TestPumpCopiesEverything: everything written arrives, in order, in
// chunks of at most readSize, and the pump ends at EOF.
func TestPumpCopiesEverything(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := &collector{}
	p := startPump(r, logs.Stderr, false, c.sink)
	var want bytes.Buffer
	for i := 0; i < 2000; i++ {
		line := bytes.Repeat([]byte{byte('a' + i%26)}, i%700)
		line = append(line, '\n')
		want.Write(line)
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("pump did not end at EOF")
	}
	if !bytes.Equal(c.data.Bytes(), want.Bytes()) {
		t.Fatalf("got %d bytes, want %d (or they differ)", c.data.Len(), want.Len())
	}
	if c.max > readSize {
		t.Fatalf("a chunk of %d bytes, want at most %d", c.max, readSize)
	}
}

// TestPumpStopsUnderLoad: stopping works while the writer never lets the
// pipe run empty: the read loop looks at stop after every chunk, not only
// when the pipe is empty.
func TestPumpStopsUnderLoad(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
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
	p := startPump(r, logs.Stdout, false, c.sink)
	for deadline := time.Now().Add(10 * time.Second); c.len() < 1<<20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no output")
		}
	}
	close(p.stop)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("pump did not stop while output kept coming")
	}
}

// TestPumpNoAllocPerChunk: in steady state a chunk costs no allocation,
// whether it arrives after the pump parked (a wake-up) or not.
func TestPumpNoAllocPerChunk(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan struct{}, 1)
	p := startPump(r, logs.Stdout, false, func(logs.Stream, []byte) { got <- struct{}{} })
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
	w.Close()
	<-p.done
}

// BenchmarkPumpThroughput: bytes per second through one pipe, the writer
// never pausing (sink excluded); cio's BenchmarkPollerThroughput has the
// same shape.
func BenchmarkPumpThroughput(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var got int64
	p := startPump(r, logs.Stdout, false, func(_ logs.Stream, c []byte) { got += int64(len(c)) })
	block := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	b.SetBytes(int64(len(block)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	<-p.done
	if got != int64(b.N*len(block)) {
		b.Fatalf("read %d bytes, want %d", got, b.N*len(block))
	}
}

// BenchmarkPumpLine: one short line written and handed to the sink, the
// pump waiting in between (cio's BenchmarkPollerLine).
func BenchmarkPumpLine(b *testing.B) {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	got := make(chan struct{}, 1)
	p := startPump(r, logs.Stdout, false, func(logs.Stream, []byte) { got <- struct{}{} })
	line := []byte("a line of output\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	w.Close()
	<-p.done
}
