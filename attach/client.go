package attach

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Buffers are pooled rather than owned per client: an attach session can sit
// idle for hours and should then hold no buffer at all.
var (
	framePool = sync.Pool{New: func() any { b := make([]byte, maxFrame); return &b }}
	inputPool = sync.Pool{New: func() any { b := make([]byte, InputBufferSize); return &b }}
)

// client is one accepted attach connection. Its reader forwards input; its
// writer drains q. Either side, Broadcast or Close may end it via shutdown.
type client struct {
	srv       *Server
	id        uint64
	f         *os.File // non-blocking, under the runtime poller
	rc        syscall.RawConn
	q         frameQueue
	wake      chan struct{} // cap 1: output queued or finish requested
	dead      chan struct{} // closed by shutdown
	finishing atomic.Bool   // server closing: drain, then close
	closeOnce sync.Once

	// Back-pressure (backpressure.go): writes counts completed datagram
	// writes, progress (cap 1) wakes a Broadcast waiting for room, and
	// writeStart is when the write in flight began (Unix ns, 0 if none).
	writes     atomic.Uint64
	writeStart atomic.Int64
	progress   chan struct{}
}

func newClient(s *Server, nfd int) (*client, error) {
	f := os.NewFile(uintptr(nfd), "attach client")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wrap attach client socket: %w", err)
	}
	return &client{
		srv:      s,
		id:       s.nextID.Add(1),
		f:        f,
		rc:       rc,
		q:        frameQueue{limit: s.opts.QueueLimit},
		wake:     make(chan struct{}, 1),
		dead:     make(chan struct{}),
		progress: make(chan struct{}, 1),
	}, nil
}

// signal wakes the writer without ever blocking the caller.
func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// finish asks the writer to drain and close. From now on every write has
// FlushTimeout to complete (the one in flight included), so a stuck client
// fails instead of hanging the monitor's exit while a reading one gets all.
func (c *client) finish() {
	c.finishing.Store(true)
	_ = c.f.SetWriteDeadline(time.Now().Add(c.srv.opts.FlushTimeout))
	c.signal()
}

// shutdown disconnects the client. Closing the file wakes both goroutines
// (the poller evicts them) and waits only for their in-flight syscalls.
func (c *client) shutdown() {
	c.closeOnce.Do(func() {
		close(c.dead)
		c.q.kill()
		c.srv.removeClient(c)
		c.f.Close()
		c.srv.log.Debugf("attach client %d disconnected", c.id)
	})
}

func (c *client) writeLoop() {
	defer c.srv.writers.Done()
	defer c.srv.stats.settle(&c.q)
	for {
		select {
		case <-c.wake:
		case <-c.dead:
			return
		}
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
		_, err := c.f.Write((*bp)[:n])
		c.writeStart.Store(0)
		if err != nil {
			return err
		}
		c.q.data.add(1 - n)
		c.progressed()
	}
}

func (c *client) readLoop() {
	for {
		bp, n, open, err := c.read()
		if !open {
			return // we closed the socket
		}
		if n > 0 {
			c.srv.forward(c, (*bp)[:n])
			inputPool.Put(bp)
			continue
		}
		inputPool.Put(bp)
		// EOF (client shut down its write side or closed) or a broken
		// connection: either way this client's input has ended.
		if !c.srv.isClosing() {
			c.srv.inputEOF()
		}
		if err != nil {
			c.srv.log.Debugf("attach client %d: read: %v", c.id, err)
			c.shutdown()
		}
		// After a clean EOF output continues until a write fails (§8.2).
		return
	}
}

// read receives one datagram into a pooled InputBufferSize buffer. open is
// false once our side closed the socket.
func (c *client) read() (bp *[]byte, n int, open bool, err error) {
	rerr := c.rc.Read(func(fd uintptr) bool {
		bp = inputPool.Get().(*[]byte)
		for {
			n, err = unix.Read(int(fd), *bp)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if errors.Is(err, unix.EAGAIN) {
			inputPool.Put(bp)
			bp = nil
			return false
		}
		return true
	})
	if rerr != nil {
		if bp != nil {
			inputPool.Put(bp)
		}
		return nil, 0, false, nil
	}
	if err != nil {
		n = 0
	}
	return bp, n, true, err
}
