// Package oom tells whether the kernel's OOM killer struck in a container's
// memory cgroup (§11.3), and marks it with the engines' "oom" files.
//
// Two kernel interfaces, chosen per container from /proc/<pid>/cgroup:
//
//	cgroup v1  an eventfd registered through cgroup.event_control for
//	           memory.oom_control: the kernel signals it on every OOM
//	cgroup v2  memory.events, watched with inotify; its "oom" and "oom_kill"
//	           counters each compared with their own last value
//
// Both are checked once more, synchronously, when the container has exited
// (Final): the kill and the exit race with the watching goroutine, and the
// oom files must exist before the exit files do.
//
// Watcher.OOMKills also gives the cgroup's kill count, as a plain number,
// to observers such as the metrics endpoint.
package oom

import (
	"sync"

	"github.com/shim-project/shim/exitcode"
)

// RemovedMessage is logged (at debug) when the watched cgroup disappears:
// removal is not an OOM kill. Tooling looks for this text in conmon's
// binary to detect its OOM handling, so it must stay word for word.
const RemovedMessage = "Cgroup appears to have been removed, stopping OOM monitoring"

// Logger receives the watcher's diagnostics.
type Logger interface {
	Warnf(format string, args ...any)
	Debugf(format string, args ...any)
}

// source is one kernel interface watching one container's cgroup.
type source interface {
	// run blocks until the source stops (interrupt, or its cgroup is
	// gone), calling fire on each OOM it sees.
	run(fire func())
	// interrupt makes run return soon; it does not release anything.
	interrupt()
	// final checks once more after run returned; true means an OOM.
	final() bool
	close()
}

// Watcher watches one container. The zero value is not usable; a nil
// *Watcher (no cgroup to watch) is, and never reports an OOM.
type Watcher struct {
	lg    Logger
	dirs  []string // where the oom files go
	kills killCount

	mu    sync.Mutex
	fired bool

	src  source
	done chan struct{}
	once sync.Once
}

// Start watches the memory cgroup of pid and creates an empty "oom" file in
// each of dirs on an OOM kill. Setup failures are warnings and give a nil
// watcher: OOM detection never stops a container.
func Start(pid int, lg Logger, dirs ...string) *Watcher {
	cg, err := Locate(pid)
	if err != nil {
		lg.Warnf("Failed to set up OOM monitoring for pid %d: %v", pid, err)
		return nil
	}
	return Watch(cg, lg, dirs...)
}

// Watch is Start for a cgroup already located (tests use fake trees).
func Watch(cg Cgroup, lg Logger, dirs ...string) *Watcher {
	var src source
	var err error
	if cg.V1 {
		src, err = newV1(cg.Dir, lg)
	} else {
		src, err = newV2(cg, lg)
	}
	if err != nil {
		lg.Warnf("%v", err)
		return nil
	}
	if src == nil {
		return nil // nothing to watch (no memory controller there)
	}
	w := &Watcher{lg: lg, dirs: dirs, kills: killCount{path: killsFile(cg)}, src: src, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		src.run(w.fire)
	}()
	return w
}

// fire records an OOM and creates the oom files the first time.
func (w *Watcher) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired {
		return
	}
	w.fired = true
	if err := exitcode.WriteOOM(w.dirs...); err != nil {
		w.lg.Warnf("Failed to write oom file: %v", err)
	}
}

// Final stops watching after the container exited, checks once more and
// reports whether an OOM kill happened; the oom files exist when it
// returns true. Calling it again returns the same answer.
func (w *Watcher) Final() bool {
	if w == nil {
		return false
	}
	w.once.Do(func() {
		w.src.interrupt()
		<-w.done
		if w.src.final() {
			w.fire()
		}
		w.src.close()
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}
