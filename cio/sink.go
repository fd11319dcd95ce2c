package cio

import (
	"sync"
	"time"

	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/logs"
)

// sink is the data path's end: every chunk goes to the log drivers first,
// then to every attach client (§8.2). Its lock keeps stdout and stderr
// entries whole and in the order they were read, and keeps a reopen (ctl
// type 2) between two chunks.
type sink struct {
	mu    sync.Mutex
	logs  *logs.Writer
	srv   *attach.Server // nil without an attach socket
	log   Logger
	quiet func() // Options.Quiet

	// With a log rate limit (§16.5): limited is set, marker is the timer
	// that logs drop markers while an episode lasts (armed only then),
	// and stopped ends the pauses of a blocking limit at exit.
	limited bool
	marker  *time.Timer
	armed   bool
	stopped chan struct{}
	stop    sync.Once
}

func newSink(w *logs.Writer, lg Logger, quiet func()) *sink {
	k := &sink{logs: w, log: lg, quiet: quiet}
	if w != nil && w.Limiter() != nil {
		k.limited, k.stopped = true, make(chan struct{})
	}
	return k
}

func (k *sink) write(st stream.Stream, p []byte) {
	k.mu.Lock()
	// The writer reports a driver's failure once, when it starts (a full
	// disk must not produce a warning per line).
	if err := k.logs.Write(st, p); err != nil {
		k.log.Warnf("write log: %v", err)
	}
	if k.srv != nil {
		k.srv.Broadcast(st, p)
	}
	if !k.limited {
		k.mu.Unlock()
		return
	}
	pause := k.logs.Throttle(st, p)
	k.tickLocked()
	k.mu.Unlock()
	if pause > 0 {
		k.pause(pause)
	}
}

// pause holds the reader back for d under a blocking rate limit: the pipes
// fill and the container's writes block. Not once the output is stopping
// (the exit drain has its own bound).
func (k *sink) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-k.stopped:
	}
}

// tickLocked logs a due drop marker and keeps the marker timer armed while
// a drop episode lasts, so a marker comes at least once a second even if
// the container goes quiet; no timer runs otherwise. k.mu is held.
func (k *sink) tickLocked() {
	if k.armed || k.isStopped() {
		return
	}
	next, err := k.logs.Tick()
	if err != nil {
		k.log.Warnf("write log: %v", err)
	}
	if next <= 0 {
		return
	}
	k.armed = true
	if k.marker == nil {
		k.marker = time.AfterFunc(next, k.tick)
	} else {
		k.marker.Reset(next)
	}
}

func (k *sink) tick() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.logs == nil || !k.armed {
		return // closed meanwhile
	}
	k.armed = false
	k.tickLocked()
}

func (k *sink) isStopped() bool {
	select {
	case <-k.stopped:
		return true
	default:
		return false
	}
}

// stopLimits ends pauses and the marker timer; the final marker is logged
// when the writer closes.
func (k *sink) stopLimits() {
	if !k.limited {
		return
	}
	k.stop.Do(func() { close(k.stopped) })
	k.mu.Lock()
	if k.marker != nil {
		k.marker.Stop()
	}
	k.armed = false
	k.mu.Unlock()
}

// woke runs before the first output after the reader waited: a client that
// connected before that output was written must get it, even if the
// scheduler has not run the accept loop yet (podman connects, then starts
// the container). While the container writes faster than we read there is
// no wait, and no accept4 on an empty backlog (a socket allocation in the
// kernel, a few microseconds) per chunk.
func (k *sink) woke() {
	if k.srv == nil {
		return
	}
	k.mu.Lock()
	k.srv.AcceptPending()
	k.mu.Unlock()
}

// idle runs on the poller's goroutine when the output paused after a
// burst: the log batch buffer goes back to the kernel, then Options.Quiet
// runs.
func (k *sink) idle() {
	k.mu.Lock()
	k.logs.Release()
	k.mu.Unlock()
	if k.quiet != nil {
		k.quiet()
	}
}

// reopen serves ctl type 2 (§10.5): kubelet and CRI-O rename the log away
// and expect the file back at once.
func (k *sink) reopen() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.logs.Reopen(); err != nil {
		k.log.Warnf("Failed to reopen log file: %v", err)
	}
}

// close flushes the log drivers, with fsync unless noSync.
func (k *sink) close(sync bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.logs.Close(sync); err != nil {
		k.log.Warnf("close logs: %v", err)
	}
}
