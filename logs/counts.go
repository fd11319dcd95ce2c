package logs

import (
	"errors"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// Counts are one driver's running totals, for observers such as the
// monitor's metrics endpoint, which reads them while the output loop writes:
// hence atomics. A driver adds a whole chunk's totals at once, so the
// per-line loop stays plain arithmetic and an idle container costs nothing.
type Counts struct {
	// Per stream, indexed 0 = stream.Stdout, 1 = stream.Stderr (stream.Stream.Index).
	Bytes   [2]atomic.Uint64 // container output bytes logged, '\n' included
	Lines   [2]atomic.Uint64 // complete ('\n'-terminated) lines logged
	Partial [2]atomic.Uint64 // partial entries: k8s-file "P", journald CONTAINER_PARTIAL_MESSAGE

	DroppedLimit   atomic.Uint64 // output bytes not logged because --log-global-size-max was reached
	DroppedNoSpace atomic.Uint64 // log bytes lost to ENOSPC or EDQUOT
	DroppedError   atomic.Uint64 // log bytes lost to any other write or send error
	Errors         atomic.Uint64 // failed write(2) calls, or datagrams journald did not take
	Rotations      atomic.Uint64 // new files started because --log-size-max was reached
	Reopens        atomic.Uint64 // new files started on request (ctl type 2, Writer.Reopen)
}

// Totals are Counts as plain numbers, for observers outside the data path
// (the metrics wiring converts them to metrics.LogCounts, whose fields are
// the same). Each counter is read atomically, not all at one instant.
type Totals struct {
	Bytes, Lines, Partial [2]uint64 // per stream, as in Counts

	DroppedLimit, DroppedNoSpace, DroppedError uint64
	Errors, Rotations, Reopens                 uint64
}

// Snapshot reads every counter; safe while the driver writes.
func (c *Counts) Snapshot() Totals {
	var t Totals
	for i := range c.Bytes {
		t.Bytes[i], t.Lines[i], t.Partial[i] = c.Bytes[i].Load(), c.Lines[i].Load(), c.Partial[i].Load()
	}
	t.DroppedLimit, t.DroppedNoSpace, t.DroppedError = c.DroppedLimit.Load(), c.DroppedNoSpace.Load(), c.DroppedError.Load()
	t.Errors, t.Rotations, t.Reopens = c.Errors.Load(), c.Rotations.Load(), c.Reopens.Load()
	return t
}

// tally is what one call logged for one stream, added to Counts once.
type tally struct{ bytes, lines, partial uint64 }

func (t *tally) entry(n int, full bool) {
	t.bytes += uint64(n)
	if full {
		t.lines++
	} else {
		t.partial++
	}
}

func (c *Counts) add(i int, t tally) {
	if t.bytes != 0 {
		c.Bytes[i].Add(t.bytes)
	}
	if t.lines != 0 {
		c.Lines[i].Add(t.lines)
	}
	if t.partial != 0 {
		c.Partial[i].Add(t.partial)
	}
}

// countChunk adds one K8sLog.WriteAt's totals; dropped is what
// --log-global-size-max cut off.
func (f *K8sLog) countChunk(s stream.Stream, t tally, dropped int) {
	if i, ok := s.Index(); ok {
		f.counts.add(i, t)
	}
	if dropped > 0 {
		f.counts.DroppedLimit.Add(uint64(dropped))
	}
}

// lost records n log bytes that a failed write or send did not deliver.
func (c *Counts) lost(n int64, err error) {
	if n <= 0 {
		return
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		c.DroppedNoSpace.Add(uint64(n))
		return
	}
	c.DroppedError.Add(uint64(n))
}

// Counts returns the k8s-file's totals.
func (f *K8sLog) Counts() *Counts { return &f.counts }

// Counts returns the journald driver's totals.
func (j *Journal) Counts() *Counts { return &j.counts }

// Counts returns the totals of the k8s-file and journald drivers; nil for a
// driver that is not configured.
func (w *Writer) Counts() (file, journal *Counts) {
	if w.file != nil {
		file = &w.file.counts
	}
	if w.journal != nil {
		journal = &w.journal.counts
	}
	return file, journal
}

// countSend records one journald entry of n content bytes: logged, or lost
// with err.
func (j *Journal) countSend(stream, n int, partial bool, err error) {
	if err != nil {
		j.counts.Errors.Add(1)
		j.counts.lost(int64(n), err)
		return
	}
	var t tally
	t.entry(n, !partial)
	j.counts.add(stream, t)
}

// Logged is what became of one stream's output in the logs, for the exit
// record (§16.3): bytes and complete lines the log drivers took, and what
// the rate limit kept from them.
type Logged struct {
	Bytes, Lines               uint64
	DroppedBytes, DroppedLines uint64
}

// Logged returns it per stream (0 stdout, 1 stderr): the limiter's exact
// count of the container's bytes when there is a limit (its markers are
// not output), else the k8s-file's totals, else journald's.
func (w *Writer) Logged() [2]Logged {
	var out [2]Logged
	if w.limiter != nil {
		for i, t := range w.limiter.Totals() {
			out[i] = Logged{t.Logged, t.LoggedLines, t.Dropped.Bytes, t.Dropped.Lines}
		}
		return out
	}
	file, journal := w.Counts()
	if file == nil {
		file = journal
	}
	if file != nil {
		t := file.Snapshot()
		for i := range out {
			out[i] = Logged{Bytes: t.Bytes[i], Lines: t.Lines[i]}
		}
	}
	return out
}
