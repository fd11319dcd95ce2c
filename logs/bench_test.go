package logs

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// BenchmarkK8sWrite measures Writer.Write (one time.Now, formatting,
// batching, the write syscalls) for a single 100-byte line, a 64 KiB chunk
// of 100-byte lines and a 64 KiB line (eight 8 KiB pieces by iovec), to
// /dev/null (pure CPU cost) and to a real file (kept small by
// --log-size-max so the benchmark does not fill the disk). The few bytes
// per op are the batch buffer, allocated once, and the paths of the
// reopens, spread over all iterations: 0 allocs/op.
func BenchmarkK8sWrite(b *testing.B) {
	line := []byte(strings.Repeat("x", 99) + "\n")
	chunk := bytes.Repeat(line, 64<<10/len(line))
	for _, target := range []string{"devnull", "file"} {
		for _, in := range []struct {
			name string
			p    []byte
		}{{"line100", line}, {"chunk64k", chunk}, {"line64k", append(bytes.Repeat([]byte{'y'}, 64<<10-1), '\n')}} {
			b.Run(target+"/"+in.name, func(b *testing.B) {
				o := Options{Specs: []Spec{{Kind: K8sFile, Path: "/dev/null"}}}
				if target == "file" {
					o.Specs[0].Path = filepath.Join(b.TempDir(), "ctr.log")
					o.SizeMax = 64 << 20
				}
				w, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close(false)
				b.SetBytes(int64(len(in.p)))
				b.ReportAllocs()
				for b.Loop() {
					if err := w.Write(stream.Stdout, in.p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkJournalWrite measures one 100-byte line sent to a datagram
// socket drained by a reader.
func BenchmarkJournalWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "socket")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || string(buf[:n]) == "STOP" {
				return
			}
		}
	}()
	j, err := NewJournal(JournalOptions{Socket: path, ContainerID: testCID, Name: "bench", NameSet: true})
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Write(stream.Stdout, line); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	unix.Sendto(j.conn.fd, []byte("STOP"), 0, &j.conn.addr)
	<-done
	j.Close()
}

// BenchmarkRateLimit is BenchmarkK8sWrite's 64 KiB chunk of 100-byte lines
// to /dev/null with no limit, with a limit that never drops (its cost when
// a container stays under it), with one that drops almost everything (a
// noisy container: lines skipped, not formatted), and blocking (counting
// only).
func BenchmarkRateLimit(b *testing.B) {
	line := []byte(strings.Repeat("x", 99) + "\n")
	chunk := bytes.Repeat(line, 64<<10/len(line))
	for _, tc := range []struct {
		name  string
		limit *Limit
	}{
		{"off", nil},
		{"under", &Limit{Rate: 1 << 50}},
		{"dropping", &Limit{Rate: 1 << 10}},
		{"block", &Limit{Rate: 1 << 50, Block: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: "/dev/null"}}})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close(false)
			if tc.limit != nil {
				w.SetLimit(*tc.limit)
			}
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(stream.Stdout, chunk); err != nil {
					b.Fatal(err)
				}
				w.Throttle(stream.Stdout, chunk)
			}
		})
	}
}
