package logs

import (
	"errors"
	"strconv"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// SetLimit puts a rate limit (§16.5) in front of the drivers; call it
// before the first Write.
func (w *Writer) SetLimit(l Limit) {
	w.limiter = NewLimiter(l, time.Now())
}

// Limiter is the rate limiter, nil without a limit.
func (w *Writer) Limiter() *Limiter { return w.limiter }

// Throttle counts p, just written, under a blocking limit and returns how
// long the reader should pause; 0 without one.
func (w *Writer) Throttle(s stream.Stream, p []byte) time.Duration {
	if w.limiter == nil || !w.limiter.lim.Block {
		return 0
	}
	return w.limiter.Take(s, p, time.Now())
}

// Tick logs the marker a drop episode is due (once per MarkerInterval
// while it lasts) and returns when to call again; 0: no episode.
func (w *Writer) Tick() (time.Duration, error) {
	if w.limiter == nil {
		return 0, nil
	}
	now := time.Now()
	m, ok, next := w.limiter.Due(now)
	if !ok {
		return next, nil
	}
	var out limitedOut
	out.w, out.ts = w, now
	out.marker(m)
	return next, out.err
}

// limitedOut writes what the limiter lets through to the drivers, keeping
// the first error.
type limitedOut struct {
	w   *Writer
	ts  time.Time
	err error
}

func (o *limitedOut) part(s stream.Stream, p []byte) {
	if err := o.w.writeAt(s, p, o.ts); err != nil && o.err == nil {
		o.err = err
	}
}

// marker is a whole line on k8s-file, and on journald an entry with the
// counts in fields of their own, so it can be filtered.
func (o *limitedOut) marker(m Marker) {
	var ferr, jerr error
	if o.w.file != nil {
		ferr = o.w.file.WriteAt(m.Stream, []byte(m.Text+"\n"), o.ts)
	}
	if o.w.journal != nil {
		jerr = o.w.journal.sendMarker(m)
	}
	err := errors.Join(o.w.failing[0].onset(ferr, o.ts), o.w.failing[1].onset(jerr, o.ts))
	if err != nil && o.err == nil {
		o.err = err
	}
}

// writeLimited is Write through a dropping limiter.
func (w *Writer) writeLimited(s stream.Stream, p []byte, ts time.Time) error {
	w.lout = limitedOut{w: w, ts: ts} // a field: no allocation per chunk
	w.limiter.Filter(s, p, ts, &w.lout)
	return w.lout.err
}

// finalMarker logs the drops not yet reported, before the drivers close.
func (w *Writer) finalMarker() error {
	if w.limiter == nil {
		return nil
	}
	m, ok := w.limiter.Final()
	if !ok {
		return nil
	}
	out := limitedOut{w: w, ts: time.Now()}
	out.marker(m)
	return out.err
}

// Journald fields of a marker entry (§16.5).
const (
	markerField      = "SHIM_LOG_RATE_LIMITED"
	markerBytesField = "SHIM_DROPPED_BYTES"
	markerLinesField = "SHIM_DROPPED_LINES"
)

// sendMarker sends a marker as its own entry: MESSAGE, the stream's fields,
// SHIM_LOG_RATE_LIMITED=1 and the counts.
func (j *Journal) sendMarker(m Marker) error {
	i, ok := m.Stream.Index()
	if !ok {
		return nil
	}
	b := appendField(j.buf[:0], "MESSAGE", m.Text)
	b = append(b, j.fields[i]...)
	b = appendField(b, markerField, "1")
	b = appendField(b, markerBytesField, strconv.FormatUint(m.Dropped.Bytes, 10))
	b = appendField(b, markerLinesField, strconv.FormatUint(m.Dropped.Lines, 10))
	b = append(b, j.labels...)
	err := j.sendDatagram(b)
	j.buf = b[:0]
	return err
}
