package cio

import (
	"bytes"
	"testing"

	"github.com/shim-project/shim/cio/stream"
)

// BenchmarkPollerThroughput: bytes per second through one pipe, the writer
// never pausing (the log path's ceiling, sink excluded). The same shape as
// cmd/shim's BenchmarkPumpThroughput had for the two-goroutine pump.
func BenchmarkPollerThroughput(b *testing.B) {
	r, w := pipe(b)
	var got int64
	p := newPoller(b, func(_ stream.Stream, c []byte) { got += int64(len(c)) })
	add(b, p, r, stream.Stdout, false)
	block := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	b.SetBytes(int64(len(block)))
	b.ResetTimer()
	p.Start()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	<-p.Done()
	if got != int64(b.N*len(block)) {
		b.Fatalf("read %d bytes, want %d", got, b.N*len(block))
	}
}

// BenchmarkPollerLine: one short line written and handed to the sink, the
// poller waiting in between (a wake-up per line: the common log case).
func BenchmarkPollerLine(b *testing.B) {
	r, w := pipe(b)
	got := make(chan struct{}, 1)
	p := newPoller(b, func(stream.Stream, []byte) { got <- struct{}{} })
	add(b, p, r, stream.Stdout, false)
	p.Start()
	line := []byte("a line of output\n")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}
