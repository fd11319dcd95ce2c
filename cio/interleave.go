package cio

import (
	"bytes"

	"github.com/shim-project/shim/cio/stream"
)

// When one poll finds both streams ready with several lines each, the
// monitor was behind (descheduled, or busy with the previous chunk): the
// container wrote to both in the meantime and the kernel no longer says in
// which order. Handing over all of the first stream's lines and then all of
// the second's would log the whole backlog of one before the whole backlog
// of the other, and a container that alternates "out N", "err N" would see
// up to k²/2 line pairs swapped for a backlog of k. Instead the two chunks
// are interleaved as if each stream's lines had been written evenly spread
// over the time the monitor was away: piece i of n of a chunk is taken to
// start at i/n, and the pieces go to the sink by that start, the stream the
// kernel reported ready first winning ties (its first byte was written
// first). Each stream's bytes keep their order and are all handed over
// exactly once; only whole lines are cut apart. Big chunks (a flood on both
// streams) are handed over whole: splitting them would cost a log write per
// piece for an order that is lost anyway.
const (
	interleaveMax    = 32 << 10 // both chunks together, at most
	interleavePieces = 32       // per stream: bounds the sink calls per batch
)

// chunk is one stream's read, cut into pieces at line ends.
type chunk struct {
	st     stream.Stream
	b      []byte
	lines  int // complete lines in b
	pieces int // how many pieces b is cut into (>= 1)
	k      int // the next piece to hand over
	off    int // where it starts in b
}

func newChunk(st stream.Stream, b []byte) chunk {
	c := chunk{st: st, b: b, lines: bytes.Count(b, []byte{'\n'})}
	c.pieces = max(min(c.lines, interleavePieces), 1)
	return c
}

// end is where piece c.k ends: after the line that closes it, or at the end
// of b for the last piece (with a trailing partial line, if any).
func (c *chunk) end() int {
	if c.k == c.pieces-1 {
		return len(c.b)
	}
	// Piece k covers lines [k*lines/pieces, (k+1)*lines/pieces).
	need := (c.k+1)*c.lines/c.pieces - c.k*c.lines/c.pieces
	e := c.off
	for ; need > 0; need-- {
		e += bytes.IndexByte(c.b[e:], '\n') + 1
	}
	return e
}

// before reports whether a's next piece starts no later than b's (a wins
// ties): k_a/n_a <= k_b/n_b.
func before(a, b *chunk) bool { return a.k*b.pieces <= b.k*a.pieces }

// interleave hands two chunks to sink piece by piece in the order of their
// estimated start; a is the stream the kernel reported ready first.
// Consecutive pieces of one stream go as one call.
func interleave(a, b chunk, sink func(stream.Stream, []byte)) {
	// aNext: a's next piece goes before b's (b is used up, or a starts no
	// later).
	aNext := func() bool { return b.k >= b.pieces || (a.k < a.pieces && before(&a, &b)) }
	for a.k < a.pieces || b.k < b.pieces {
		cur, want := &b, false
		if aNext() {
			cur, want = &a, true
		}
		start := cur.off
		for cur.k < cur.pieces && aNext() == want {
			cur.off = cur.end()
			cur.k++
		}
		sink(cur.st, cur.b[start:cur.off])
	}
}
