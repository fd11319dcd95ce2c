package oci

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper is the one place that collects child exits. The monitor is a child
// subreaper, so the runtime, exec'd processes, the container init (reparented
// to us when `runtime create` exits) and any orphan all end up here. Nothing
// else may wait for a child: a second waiter (os/exec's cmd.Wait, say) races
// with wait4(-1) and one of the two loses the status.
//
// Exits of pids nobody asked about yet are remembered, because the container
// pid is learnt from the pidfile after the container may already have died.
type Reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	early   map[int]earlyExit
	sigs    chan os.Signal
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// maxEarly bounds the exits kept for pids nobody has asked about: orphans
// reparented to us are reaped and mostly never asked for.
const maxEarly = 256

// earlyTTL is how long an unclaimed exit is kept. Whoever waits for a pid
// asks within moments of learning it (right after a spawn, or right after
// reading a pidfile); an older entry belongs to an orphan, and keeping it
// could hand its status to a later child that reused the pid.
const earlyTTL = time.Minute

type earlyExit struct {
	ws unix.WaitStatus
	at time.Time
}

// StartReaper subscribes to SIGCHLD and starts the reaping loop. Call it
// before starting any child.
func StartReaper() *Reaper {
	r := &Reaper{
		waiters: make(map[int]chan unix.WaitStatus),
		early:   make(map[int]earlyExit),
		sigs:    make(chan os.Signal, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	signal.Notify(r.sigs, unix.SIGCHLD)
	go r.loop()
	return r
}

func (r *Reaper) loop() {
	defer close(r.stopped)
	for {
		select {
		case <-r.sigs:
			r.reapAll()
		case <-r.done:
			return
		}
	}
}

// reapAll collects every exited child without blocking.
func (r *Reaper) reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if !ws.Exited() && !ws.Signaled() {
			continue // stopped/continued: not an exit
		}
		r.dispatch(pid, ws)
	}
}

func (r *Reaper) dispatch(pid int, ws unix.WaitStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiters[pid]; ok {
		delete(r.waiters, pid)
		ch <- ws
		return
	}
	now := time.Now()
	for k, e := range r.early {
		if now.Sub(e.at) > earlyTTL {
			delete(r.early, k)
		}
	}
	if len(r.early) >= maxEarly {
		oldest, at := 0, now
		for k, e := range r.early {
			if e.at.Before(at) {
				oldest, at = k, e.at
			}
		}
		delete(r.early, oldest)
	}
	r.early[pid] = earlyExit{ws: ws, at: now}
}

// Wait returns a channel that receives the wait status of pid once it has
// been reaped (at once if it already was).
func (r *Reaper) Wait(pid int) <-chan unix.WaitStatus {
	ch := make(chan unix.WaitStatus, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.early[pid]; ok {
		delete(r.early, pid)
		ch <- e.ws
		return ch
	}
	r.waiters[pid] = ch
	return ch
}

// Forget drops interest in pid (e.g. after a timeout gave up on it).
func (r *Reaper) Forget(pid int) {
	r.mu.Lock()
	delete(r.waiters, pid)
	r.mu.Unlock()
}

// Kick makes the loop look for exits now, e.g. after a child was started
// whose SIGCHLD may have been coalesced with an earlier one.
func (r *Reaper) Kick() {
	select {
	case r.sigs <- unix.SIGCHLD:
	default:
	}
}

// Stop unsubscribes from SIGCHLD and ends the loop. Children that exit
// afterwards are left for whoever waits for them directly (the exit command).
func (r *Reaper) Stop() {
	r.once.Do(func() {
		signal.Stop(r.sigs)
		close(r.done)
		<-r.stopped
	})
}
