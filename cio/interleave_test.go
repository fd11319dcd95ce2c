package cio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shim-project/shim/cio/stream"
)

type piece struct {
	st stream.Stream
	b  string
}

func interleaved(a, b string) []piece {
	var got []piece
	interleave(newChunk(stream.Stdout, []byte(a)), newChunk(stream.Stderr, []byte(b)), func(st stream.Stream, p []byte) {
		got = append(got, piece{st, string(p)})
	})
	return got
}

// checkPieces: every byte of each stream is handed over once, in order, in
// at most 2*interleavePieces calls of at least one byte; the stream ready
// first starts.
func checkPieces(t *testing.T, a, b string, got []piece) {
	t.Helper()
	var out, errs strings.Builder
	for i, p := range got {
		if p.b == "" {
			t.Fatalf("piece %d is empty", i)
		}
		if i > 0 && got[i-1].st == p.st {
			t.Fatalf("pieces %d and %d of one stream not joined", i-1, i)
		}
		if p.st == stream.Stdout {
			out.WriteString(p.b)
		} else {
			errs.WriteString(p.b)
		}
	}
	if out.String() != a || errs.String() != b {
		t.Fatalf("streams come out as %q and %q, want %q and %q", out.String(), errs.String(), a, b)
	}
	if len(got) > 2*interleavePieces {
		t.Fatalf("%d sink calls, want at most %d", len(got), 2*interleavePieces)
	}
	if a != "" && got[0].st != stream.Stdout {
		t.Fatalf("the stream ready second came first: %q", got[0].b)
	}
}

// TestInterleaveAlternating: a backlog of "out N"/"err N" pairs comes out as
// the container wrote it.
func TestInterleaveAlternating(t *testing.T) {
	for _, n := range []int{1, 2, 7, 32, 33, 100} {
		var a, b, want strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&a, "out %d\n", i)
			fmt.Fprintf(&b, "err %d\n", i)
		}
		got := interleaved(a.String(), b.String())
		checkPieces(t, a.String(), b.String(), got)
		if n > interleavePieces {
			continue // pieces of several lines: the order is per piece
		}
		for i := 0; i < n; i++ {
			fmt.Fprintf(&want, "out %d\nerr %d\n", i, i)
		}
		var all strings.Builder
		for _, p := range got {
			all.WriteString(p.b)
		}
		if all.String() != want.String() {
			t.Fatalf("%d pairs came out as\n%s", n, all.String())
		}
	}
}

// TestInterleaveShapes: lopsided chunks, partial lines, no newline at all.
func TestInterleaveShapes(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"one\n", "e1\ne2\ne3\n"},
		{"o1\no2\no3\no4\n", "e\n"},
		{"partial", "e1\ne2\n"},
		{"o1\no2", "no newline"},
		{"o1\n", "e1\ne2\ntail"},
		{strings.Repeat("x\n", 1000), strings.Repeat("y\n", 3)},
	} {
		checkPieces(t, tt.a, tt.b, interleaved(tt.a, tt.b))
	}
}

// TestInterleaveRandom: random chunks keep every byte in stream order.
func TestInterleaveRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() string {
		var s strings.Builder
		for n := r.IntN(200); n > 0; n-- {
			s.WriteString(strings.Repeat("z", r.IntN(20)))
			if r.IntN(10) > 0 {
				s.WriteByte('\n')
			}
		}
		if s.Len() == 0 {
			s.WriteByte('q')
		}
		return s.String()
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		checkPieces(t, a, b, interleaved(a, b))
	}
}

func FuzzInterleave(f *testing.F) {
	f.Add([]byte("out 0\nout 1\n"), []byte("err 0\nerr 1\n"))
	f.Add([]byte("partial"), []byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) == 0 || len(b) == 0 {
			return // the poller interleaves two non-empty chunks only
		}
		checkPieces(t, string(a), string(b), interleaved(string(a), string(b)))
	})
}

// TestInterleaveNoAlloc: interleaving costs no allocation.
func TestInterleaveNoAlloc(t *testing.T) {
	a := bytes.Repeat([]byte("out line\n"), 100)
	b := bytes.Repeat([]byte("err line\n"), 100)
	sink := func(stream.Stream, []byte) {}
	if n := testing.AllocsPerRun(100, func() {
		interleave(newChunk(stream.Stdout, a), newChunk(stream.Stderr, b), sink)
	}); n != 0 {
		t.Fatalf("%v allocations per interleave", n)
	}
}
