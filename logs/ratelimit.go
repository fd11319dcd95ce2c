package logs

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// Limit is a per-container log rate limit (§16.5): a token bucket of Burst
// bytes refilled at Rate bytes per second, shared by both streams.
type Limit struct {
	Rate  int64 // bytes per second; > 0
	Burst int64 // bucket size; <= 0 means Rate (one second's worth)
	Block bool  // back-pressure instead of dropping
}

// MarkerInterval is how often a marker is logged while a drop episode lasts.
const MarkerInterval = time.Second

// lineState is what the limiter decided for the line a stream is in.
type lineState uint8

const (
	atStart  lineState = iota // the next byte starts a line: decide then
	keeping                   // the line is being logged
	dropping                  // the line is kept from the logs
)

// Limiter applies a Limit to the log drivers' input. In drop mode whole
// lines are kept or dropped: a line is logged if the bucket is not in debt
// when it starts, so lines are never cut into fragments, except a line
// that alone runs the debt past Burst (a container writing without
// newlines), whose rest is dropped and which is closed in the log with an
// empty complete entry. Not safe for concurrent use (the sink serialises).
type Limiter struct {
	lim    Limit
	tokens float64
	last   time.Time

	line [2]lineState
	// Drops since the last marker, and when the first of them happened
	// (zero: none pending). A marker sums up at most MarkerInterval of
	// drops, so an episode of drops gets one per second and, a second at
	// most after its end, one for its last drops.
	pending      [2]DropCount
	episodeStart time.Time

	// Read by the metrics while the sink writes: atomics.
	totals [2]limitCounters
}

type limitCounters struct {
	bytes, logged, loggedLines, droppedBytes, droppedLines, markers atomic.Uint64
}

// DropCount is output kept from the logs.
type DropCount struct{ Bytes, Lines uint64 }

// LimitTotals are one stream's totals through the limiter. Bytes = Logged
// + Dropped.Bytes, exactly. A line whose end was dropped counts as a
// dropped line; LoggedLines counts complete lines logged.
type LimitTotals struct {
	Bytes, Logged, LoggedLines uint64
	Dropped                    DropCount
	Markers                    uint64
}

// NewLimiter starts with a full bucket.
func NewLimiter(l Limit, now time.Time) *Limiter {
	if l.Burst <= 0 {
		l.Burst = l.Rate
	}
	return &Limiter{lim: l, tokens: float64(l.Burst), last: now}
}

func (l *Limiter) refill(now time.Time) {
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(float64(l.lim.Burst), l.tokens+float64(l.lim.Rate)*d.Seconds())
		l.last = now
	}
}

// Take counts p in block mode and returns how long the reader should
// pause before reading more, so that the rate holds.
func (l *Limiter) Take(s stream.Stream, p []byte, now time.Time) time.Duration {
	l.refill(now)
	n := len(p)
	l.tokens -= float64(n)
	if i, ok := s.Index(); ok {
		l.totals[i].bytes.Add(uint64(n))
		l.totals[i].logged.Add(uint64(n))
		l.totals[i].loggedLines.Add(uint64(bytes.Count(p, newline)))
	}
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / float64(l.lim.Rate) * float64(time.Second))
}

// limitOut takes what the limiter lets through, in order.
type limitOut interface {
	// part logs p on s: a piece of the container's output ending at a
	// '\n' or at the end of a chunk, or a lone "\n" closing a line cut
	// short.
	part(s stream.Stream, p []byte)
	marker(m Marker)
}

// Filter passes the parts of p that may be logged to out, in order, in drop
// mode. Markers are not its business: see Due.
func (l *Limiter) Filter(s stream.Stream, p []byte, now time.Time, out limitOut) {
	i, ok := s.Index()
	if !ok {
		out.part(s, p)
		return
	}
	l.refill(now)
	var c chunkCount
	run := -1 // start of the kept bytes not yet passed to out
	flush := func(end int) {
		if run >= 0 {
			out.part(s, p[run:end])
			run = -1
		}
	}
	for off := 0; off < len(p); {
		rest := p[off:]
		if l.line[i] == atStart {
			l.line[i] = dropping
			if l.tokens > 0 {
				l.line[i] = keeping
			}
		}
		if l.line[i] == dropping {
			flush(off)
			k := bytes.IndexByte(rest, '\n')
			if k < 0 {
				c.dropped += uint64(len(rest))
				break
			}
			end := k + 1
			if l.tokens <= 0 {
				// The bucket refills once per chunk: every line that
				// starts in the rest of this one is dropped too.
				end = bytes.LastIndexByte(rest, '\n') + 1
			}
			c.dropped += uint64(end)
			c.droppedLines += uint64(bytes.Count(rest[:end], newline))
			off += end
			l.line[i] = atStart
			continue
		}
		if run < 0 {
			run = off
		}
		if l.tokens > float64(len(rest)) {
			// Every line that starts in rest starts with budget left:
			// keep it all in one go.
			off = len(p)
			l.tokens -= float64(len(rest))
			c.logged += uint64(len(rest))
			nl := bytes.Count(rest, newline)
			c.loggedLines += uint64(nl)
			if rest[len(rest)-1] == '\n' {
				l.line[i] = atStart
			} else if nl > 0 {
				l.line[i] = keeping
			}
			break
		}
		seg, full := rest, false
		if k := bytes.IndexByte(rest, '\n'); k >= 0 {
			seg, full = rest[:k+1], true
		}
		off += len(seg)
		l.tokens -= float64(len(seg))
		c.logged += uint64(len(seg))
		if full {
			c.loggedLines++
			l.line[i] = atStart
		} else if l.tokens < -float64(l.lim.Burst) {
			// One line alone is over the budget: drop its rest, and
			// close it in the log.
			flush(off)
			out.part(s, newline)
			l.line[i] = dropping
		}
	}
	flush(len(p))
	l.count(i, uint64(len(p)), c, now)
}

// chunkCount is one chunk's tally, added to the totals once.
type chunkCount struct{ logged, loggedLines, dropped, droppedLines uint64 }

func (l *Limiter) count(i int, n uint64, c chunkCount, now time.Time) {
	t := &l.totals[i]
	t.bytes.Add(n)
	if c.logged > 0 {
		t.logged.Add(c.logged)
		t.loggedLines.Add(c.loggedLines)
	}
	if c.dropped == 0 {
		return
	}
	t.droppedBytes.Add(c.dropped)
	t.droppedLines.Add(c.droppedLines)
	l.pending[i].Bytes += c.dropped
	l.pending[i].Lines += c.droppedLines
	if l.episodeStart == (time.Time{}) {
		l.episodeStart = now
	}
}

var newline = []byte{'\n'}

// Marker is one marker entry to log.
type Marker struct {
	Stream  stream.Stream
	Text    string
	Dropped DropCount // both streams
}

// pendingMarker is the marker for the drops since the last one, or ok false
// when there are none.
func (l *Limiter) pendingMarker() (Marker, bool) {
	a, b := l.pending[0], l.pending[1]
	if a.Bytes == 0 && b.Bytes == 0 {
		return Marker{}, false
	}
	m := Marker{Stream: stream.Stdout, Dropped: DropCount{Bytes: a.Bytes + b.Bytes, Lines: a.Lines + b.Lines}}
	if b.Bytes > a.Bytes {
		m.Stream = stream.Stderr
	}
	m.Text = fmt.Sprintf("[shim] log rate limit %d B/s (burst %d B): dropped %d bytes, %d lines "+
		"(stdout %d bytes, %d lines; stderr %d bytes, %d lines)",
		l.lim.Rate, l.lim.Burst, m.Dropped.Bytes, m.Dropped.Lines, a.Bytes, a.Lines, b.Bytes, b.Lines)
	return m, true
}

// takeMarker returns the pending marker, if any, and starts a new count.
// A marker goes on the stream that lost most; if that stream is in the
// middle of a logged line, on the other one; if both are, it waits
// (ok false), unless final: at exit nothing more will come.
func (l *Limiter) takeMarker(final bool) (Marker, bool) {
	m, ok := l.pendingMarker()
	if !ok {
		l.episodeStart = time.Time{}
		return m, false
	}
	if i, _ := m.Stream.Index(); l.line[i] == keeping {
		other := stream.Stderr
		if m.Stream == stream.Stderr {
			other = stream.Stdout
		}
		j, _ := other.Index()
		switch {
		case l.line[j] != keeping:
			m.Stream = other
		case !final:
			return Marker{}, false
		}
	}
	i, _ := m.Stream.Index()
	l.totals[i].markers.Add(1)
	l.pending = [2]DropCount{}
	l.episodeStart = time.Time{}
	return m, true
}

// Due returns the marker to log now, when the oldest drop not yet
// reported is MarkerInterval old (ok false if none is due). next is how
// long until one may be due; 0 when no drop is pending.
func (l *Limiter) Due(now time.Time) (m Marker, ok bool, next time.Duration) {
	if l.episodeStart == (time.Time{}) {
		return Marker{}, false, 0
	}
	if wait := MarkerInterval - now.Sub(l.episodeStart); wait > 0 {
		return Marker{}, false, wait
	}
	m, ok = l.takeMarker(false)
	if !ok {
		return m, false, MarkerInterval / 4 // both streams mid-line: soon
	}
	return m, true, 0
}

// Final returns the marker for drops not yet reported (at exit).
func (l *Limiter) Final() (Marker, bool) { return l.takeMarker(true) }

// Totals are the per-stream totals (0 stdout, 1 stderr); safe to call
// while the sink writes.
func (l *Limiter) Totals() [2]LimitTotals {
	var t [2]LimitTotals
	for i := range t {
		c := &l.totals[i]
		t[i] = LimitTotals{Bytes: c.bytes.Load(), Logged: c.logged.Load(), LoggedLines: c.loggedLines.Load(),
			Dropped: DropCount{Bytes: c.droppedBytes.Load(), Lines: c.droppedLines.Load()}, Markers: c.markers.Load()}
	}
	return t
}
