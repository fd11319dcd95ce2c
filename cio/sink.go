package cio

import (
	"sync"

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
