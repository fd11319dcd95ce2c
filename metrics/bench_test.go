package metrics

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/logs"
)

// BenchmarkLogWhileScraped: the k8s-file write path (64 KiB chunks of
// 100-byte lines to /dev/null) alone, and while another goroutine renders
// the exposition every millisecond, thousands of times more often than
// Prometheus scrapes: the counters are atomics the writer adds once per
// chunk, so the two share only a few cache lines and no lock.
func BenchmarkLogWhileScraped(b *testing.B) {
	line := append(bytes.Repeat([]byte{'a'}, 99), '\n')
	chunk := bytes.Repeat(line, 64<<10/100)
	for _, scraped := range []bool{false, true} {
		name := "idle"
		if scraped {
			name = "scraped"
		}
		b.Run(name, func(b *testing.B) {
			f, err := logs.OpenK8sLog("/dev/null", logs.FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			counts := f.Counts()
			c := New(Labels{ContainerID: "abc", Name: "web"},
				Sources{File: func() LogCounts { return LogCounts(counts.Snapshot()) }})
			var stop atomic.Bool
			done := make(chan int)
			if scraped {
				go func() {
					n := 0
					buf := make([]byte, 0, 8<<10)
					for !stop.Load() {
						buf = c.Append(buf[:0])
						n++
						time.Sleep(time.Millisecond)
					}
					done <- n
				}()
			}
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				if err := f.Write(stream.Stdout, chunk); err != nil {
					b.Fatal(err)
				}
			}
			stop.Store(true)
			if scraped {
				b.ReportMetric(float64(<-done)/b.Elapsed().Seconds(), "scrapes/s")
			}
		})
	}
}
