package attach

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Buffers are pooled rather than owned per client: an attach session can sit
// idle for hours and should then hold no buffer at all.
var (
	framePool = sync.Pool{New: func() any { b := make([]byte, maxFrame); return &b }}
	inputPool = sync.Pool{New: func() any { b := make([]byte, InputBufferSize); return &b }}
)

// writerLinger is how long a writer goroutine whose queue ran empty waits
// for more output before it ends: a client that keeps getting output keeps
// its writer (and its ring), one that gets nothing costs no goroutine.
const writerLinger = time.Second

// client is one accepted attach connection. The watcher (watch.go) handles
// its input and hang-up; a writer goroutine drains q while output is queued.
// Either side, Broadcast or Close may end it via shutdown.
type client struct {
	srv *Server
	id  uint64
	// fd is the socket (non-blocking) until shutdown sets it to -1; fdMu
	// makes the raw syscalls on it (reads, epoll_ctl) and closing it
	// exclusive, so none can reach a later file that reused the number.
	// f wraps it once a writer is needed (its writes wait in the runtime
	// poller, with deadlines), and then owns it: an idle client costs
	// neither the wrapper nor a registration in the runtime poller.
	fdMu      sync.Mutex
	fd        int
	f         *os.File
	q         frameQueue
	dead      chan struct{} // closed by shutdown; made on demand (deadChan), under fdMu
	finishing atomic.Bool   // server closing: drain, then close
	closed    atomic.Bool   // shutdown has begun

	// In the server's clientSet (registry.go), guarded by srv.mu; slot is
	// fixed once the client is added.
	prev, next *client
	slot       int32

	// inputDone: the client's input has ended (EOF), only its hang-up is
	// watched now. Set by whoever holds its one-shot event.
	inputDone atomic.Bool
	// shared: a goroutine other than the watcher may hold the client (a
	// Broadcast snapshot, an input goroutine, Close). One that never was
	// shared is reused once the watcher drops it (spare.go).
	shared atomic.Bool

	// Back-pressure (backpressure.go): writes counts completed datagram
	// writes, q.progress wakes a Broadcast waiting for room, and
	// writeStart is when the write in flight began (Unix ns, 0 if none).
	writes     atomic.Uint64
	writeStart atomic.Int64
}

// newClient makes a client, or reuses a spare one (spare.go); s.mu is held.
// A client that never gets output or sends input needs no channel, buffer
// or goroutine (issue 11).
func newClient(s *Server, nfd int) (c *client, fresh bool) {
	if k := len(s.spare); k > 0 {
		c = s.spare[k-1]
		s.spare[k-1] = nil
		s.spare = s.spare[:k-1]
	} else {
		c, fresh = new(client), true
	}
	c.srv, c.id, c.fd, c.slot = s, s.nextID.Add(1), nfd, -1
	c.q.limit = s.opts.QueueLimit
	return c, fresh
}

// deadChan is closed once the client is shut down.
func (c *client) deadChan() <-chan struct{} {
	c.fdMu.Lock()
	defer c.fdMu.Unlock()
	if c.dead == nil {
		c.dead = make(chan struct{})
		if c.fd < 0 {
			close(c.dead)
		}
	}
	return c.dead
}

// tag tells this client's epoll events from those of an earlier client in
// the same slot.
func (c *client) tag() int32 { return int32(uint32(c.id)) }

// queued acts on a push's result: a client with output and no writer gets
// one, a running writer is woken.
func (c *client) queued(r pushResult) {
	switch r {
	case pushedStart:
		c.startWriter()
	case pushed:
		c.signal()
	}
}

// startWriter starts a writer run, wrapping the socket for it the first
// time. A client shut down meanwhile needs none.
func (c *client) startWriter() {
	c.fdMu.Lock()
	if c.f == nil && c.fd >= 0 {
		c.f = os.NewFile(uintptr(c.fd), "attach client")
	}
	ok := c.fd >= 0
	c.fdMu.Unlock()
	if !ok {
		return
	}
	c.srv.writers.Add(1)
	go c.writeLoop()
}

// setWriteDeadline bounds the write in flight, if a writer ever ran.
func (c *client) setWriteDeadline(d time.Duration) {
	c.fdMu.Lock()
	f := c.f
	c.fdMu.Unlock()
	if f != nil {
		_ = f.SetWriteDeadline(time.Now().Add(d))
	}
}

// signal wakes the writer without ever blocking the caller; only called
// once a writer was claimed (q.wake exists).
func (c *client) signal() {
	select {
	case c.q.wake <- struct{}{}:
	default:
	}
}

// finish asks the writer to drain and close. From now on every write has
// FlushTimeout to complete (the one in flight included), so a stuck client
// fails instead of hanging the monitor's exit while a reading one gets all.
// A client with nothing queued is closed at once.
func (c *client) finish() {
	c.finishing.Store(true)
	if c.q.finish() {
		c.shutdown()
		return
	}
	c.setWriteDeadline(c.srv.opts.FlushTimeout)
	c.signal()
}

// shutdown disconnects the client. Closing the file wakes a writer waiting
// in the poller and waits only for in-flight syscalls. It reports whether
// this call did it (the first one).
func (c *client) shutdown() bool {
	if !c.closed.CompareAndSwap(false, true) {
		return false
	}
	c.q.kill()
	c.srv.removeClient(c)
	c.fdMu.Lock()
	fd, f := c.fd, c.f
	c.fd = -1
	if c.dead != nil {
		close(c.dead)
	}
	// Explicitly: a child forked meanwhile may hold the socket open, and
	// its registration would outlive our close.
	_ = c.srv.ctlFd(unix.EPOLL_CTL_DEL, fd, nil)
	if f == nil {
		unix.Close(fd)
	}
	c.fdMu.Unlock()
	if f != nil {
		f.Close()
	}
	if c.srv.debug {
		c.srv.log.Debugf("attach client %d disconnected", c.id)
	}
	return true
}

// writeLoop is one run of the client's writer: it starts with output queued
// and ends when the queue stayed empty for writerLinger, or with the client.
func (c *client) writeLoop() {
	defer c.srv.writers.Done()
	defer c.srv.stats.settle(&c.q)
	dead := c.deadChan()
	linger := time.NewTimer(writerLinger)
	defer linger.Stop()
	for {
		if err := c.flush(); err != nil {
			// conmon shuts down the write side on a failed write; the peer
			// is gone or stuck, so the whole connection goes.
			c.srv.log.Debugf("attach client %d: %v", c.id, err)
			c.shutdown()
			return
		}
		if c.finishing.Load() && c.q.empty() {
			c.shutdown()
			return
		}
		linger.Reset(writerLinger)
		select {
		case <-c.q.wake:
		case <-dead:
			return
		case <-linger.C:
			if c.q.release() {
				return
			}
		}
	}
}

// flush writes queued frames, one datagram each, until the queue is empty.
func (c *client) flush() error {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	for {
		n, ok := c.q.pop(*bp)
		if !ok {
			return nil
		}
		if c.finishing.Load() {
			_ = c.f.SetWriteDeadline(time.Now().Add(c.srv.opts.FlushTimeout))
		}
		c.writeStart.Store(time.Now().UnixNano())
		_, err := c.f.Write((*bp)[:n]) // c.f was set before the writer started
		c.writeStart.Store(0)
		if err != nil {
			return err
		}
		c.q.data.add(1 - n)
		c.progressed()
	}
}

// errClientClosed: our side closed the client's socket.
var errClientClosed = errors.New("attach client closed")

// read receives one datagram, without waiting, into a pooled
// InputBufferSize buffer (nil unless n > 0). n == 0 with a nil error is
// EOF; unix.EAGAIN means nothing is there.
func (c *client) read() (bp *[]byte, n int, err error) {
	bp = inputPool.Get().(*[]byte)
	c.fdMu.Lock()
	if c.fd < 0 {
		err = errClientClosed
	} else {
		n, err = rawRead(c.fd, *bp)
	}
	c.fdMu.Unlock()
	if err != nil || n <= 0 {
		inputPool.Put(bp)
		return nil, 0, err
	}
	return bp, n, nil
}

// rawRead is read(2) on a non-blocking fd: it cannot block, so it needs
// none of the scheduler's bookkeeping.
func rawRead(fd int, p []byte) (int, error) {
	for {
		r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
		default:
			return 0, e
		}
	}
}

// arm re-enables c's one-shot registration for events; a client that is
// gone already is left alone.
func (c *client) arm(events uint32) {
	c.fdMu.Lock()
	var err error
	if c.fd >= 0 {
		ev := unix.EpollEvent{Events: events, Fd: c.slot, Pad: c.tag()}
		err = c.srv.ctlFd(unix.EPOLL_CTL_MOD, c.fd, &ev)
	}
	c.fdMu.Unlock()
	if err != nil && !errors.Is(err, errWatcherClosed) {
		c.srv.log.Warnf("attach client %d: watch: %v", c.id, err)
		c.shutdown()
	}
}
