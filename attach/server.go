package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// InputBufferSize is the read size for client input. Engines write chunks of
// up to 32 KiB; a smaller buffer silently truncates SEQPACKET datagrams.
const InputBufferSize = 32768

// DefaultFlushTimeout bounds how long a client may take nothing once the
// container has exited (draining, then Close): a stuck client must not delay
// the exit files for long (§11.1 latency; podman waits 5 s for them), while
// a consumer that pauses briefly at the end (e.g. `podman run ... | ssh ...`
// still connecting) should still get the tail of the output.
const DefaultFlushTimeout = 2 * time.Second

// DefaultStallTimeout is how long a client with a full queue may take
// nothing before it is dropped (see Broadcast).
const DefaultStallTimeout = 5 * time.Second

// Options configure Listen. Field comments name the conmon flags they mirror.
type Options struct {
	Bundle     string // -b: the socket is <Bundle>/attach
	FullAttach bool   // --full-attach: no socket-dir symlink
	SocketDir  string // --socket-dir-path (used without FullAttach)
	Cuuid      string // -u: name of the symlink in SocketDir

	Stdin          bool // -i: client EOF closes container stdin
	Terminal       bool // -t: client input goes to the pty master even without -i
	LeaveStdinOpen bool // --leave-stdin-open

	// Input receives client input, one Write per datagram; Write must consume
	// all of p (io.Writer's contract) and may block. Nil until known: with a
	// tty the master arrives later, see SetInput. Writes are serialised.
	Input io.Writer
	// CloseStdin is called at most once, on the first client EOF, with -i
	// and without LeaveStdinOpen. It is serialised with Input writes.
	CloseStdin func()

	QueueLimit   int           // per-client pending output; 0 = DefaultQueueLimit
	StallTimeout time.Duration // see Broadcast; 0 = DefaultStallTimeout
	FlushTimeout time.Duration // the same bound once Exiting; 0 = DefaultFlushTimeout
	// Exiting reports that the container is gone and its last output is
	// being drained: from then on a client that takes nothing is dropped
	// after FlushTimeout, not StallTimeout. May be nil.
	Exiting func() bool
	Logger  Logger
	// ReleaseMemory is called once a burst of clients is over (see
	// releaseAfterBurst); nil means debug.FreeOSMemory.
	ReleaseMemory func()
}

// Server is the attach socket: it accepts clients, fans output out to all of
// them and forwards their input to the container.
type Server struct {
	opts     Options
	log      Logger
	debug    bool   // log wants debug lines (debugEnabled)
	path     string // <bundle>/attach
	symlink  string // <socket-dir>/<cuuid>, "" with FullAttach
	target   string // what symlink points to (the absolute bundle)
	ln       *os.File
	lnfd     int  // ln's fd, for raw accepts (accept.go)
	lnClosed bool // guarded by acceptMu

	w watcher // accepts, and watches the clients (watch.go)

	mu  sync.Mutex // guards set, closing and the burst fields
	set clientSet  // the connected clients
	// Broadcast serves a snapshot of set, rebuilt when set.gen moved on;
	// bmu serialises Broadcasts over it.
	bmu     sync.Mutex
	snap    []*client
	snapGen uint64
	// acceptMu makes "take from the backlog" and "add to the set" one step,
	// so AcceptPending never finds the backlog empty while the watcher
	// holds a connection it has not registered yet.
	acceptMu sync.Mutex
	closing  bool
	done     chan struct{} // closed by Close
	writers  sync.WaitGroup
	nextID   atomic.Uint64
	stats    counters // totals for Stats

	spare        []*client   // dropped clients for reuse (spare.go)
	burst        int         // clients allocated since memory was last released
	sinceCollect int         // clients allocated since the last collection (collectDue)
	releaseTimer *time.Timer // pending releaseAfterBurst, nil if none

	inMu        sync.Mutex // serialises Input writes and CloseStdin
	input       io.Writer
	inputReady  chan struct{} // closed once input is known
	stdinClosed bool
	inputErrLog bool // the first failed write was reported
}

// Listen creates the attach socket (§8.1) and starts accepting clients.
func Listen(opts Options) (*Server, error) {
	if opts.Bundle == "" {
		return nil, errors.New("attach socket: no bundle")
	}
	s := &Server{
		opts:       opts,
		log:        orNop(opts.Logger),
		debug:      debugEnabled(orNop(opts.Logger)),
		path:       filepath.Join(opts.Bundle, attachName),
		done:       make(chan struct{}),
		inputReady: make(chan struct{}),
	}
	if s.opts.QueueLimit == 0 {
		s.opts.QueueLimit = DefaultQueueLimit
	}
	s.opts.QueueLimit = max(s.opts.QueueLimit, minQueueLimit)
	if s.opts.FlushTimeout <= 0 {
		s.opts.FlushTimeout = DefaultFlushTimeout
	}
	if s.opts.StallTimeout <= 0 {
		s.opts.StallTimeout = DefaultStallTimeout
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	if err := s.startWatcher(); err != nil {
		s.ln.Close()
		_ = s.Unlink()
		_ = s.RemoveSymlink()
		return nil, err
	}
	if opts.Input != nil {
		s.SetInput(opts.Input)
	}
	return s, nil
}

func (s *Server) listen() error {
	dir := s.opts.Bundle
	if !s.opts.FullAttach {
		if s.opts.Cuuid == "" {
			return errors.New("attach socket: no cuuid for the socket-dir symlink")
		}
		link, target, err := createSymlink(s.opts.SocketDir, s.opts.Cuuid, s.opts.Bundle)
		if err != nil {
			return err
		}
		s.symlink, s.target, dir = link, target, link
	}
	ln, err := listenAttach(dir)
	if err != nil {
		if s.symlink != "" {
			_ = s.RemoveSymlink() // HEAD removes it on error exits too
		}
		return err
	}
	s.ln = ln
	rc, err := ln.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { s.lnfd = int(fd) })
	}
	if err != nil {
		ln.Close()
		return fmt.Errorf("attach socket %s: %w", s.path, err)
	}
	return nil
}

// Path is the socket file, <bundle>/attach.
func (s *Server) Path() string { return s.path }

// SymlinkPath is the socket-dir symlink, "" with FullAttach.
func (s *Server) SymlinkPath() string { return s.symlink }

// Broadcast sends p on stream to every connected client as datagrams of at
// most 1+MaxPayload bytes. Output is queued per client and written by the
// client's own goroutine, so a client that lags by less than QueueLimit
// costs the caller nothing. When a client's queue is full, Broadcast waits
// for it (back-pressure, see waitRoom), and drops it if it takes nothing for
// StallTimeout. With no client connected it costs one atomic load.
func (s *Server) Broadcast(st stream.Stream, p []byte) {
	if s.set.n.Load() == 0 || len(p) == 0 {
		return
	}
	// The frame's id byte (§8.2). Nothing else may ever be sent: podman's
	// reader aborts on any other id.
	id := st.AttachID()
	if id == 0 {
		s.log.Warnf("attach: refusing to send stream %d", st)
		return
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	for _, c := range s.snapshot() {
		switch r := c.q.push(id, p); r {
		case pushFull:
			s.waitRoom(c, id, p)
		default:
			c.queued(r)
		}
	}
}

// snapshot returns the clients newest first, rebuilt only after a change:
// accepting and removing stay O(1), and a steady stream to the same clients
// costs one atomic load for it. s.bmu must be held.
func (s *Server) snapshot() []*client {
	if gen := s.set.gen.Load(); gen != s.snapGen {
		clear(s.snap) // a client that left must not be kept alive here
		s.mu.Lock()
		s.snapGen = s.set.gen.Load()
		s.snap = s.set.appendTo(s.snap[:0])
		markShared(s.snap)
		s.mu.Unlock()
	}
	return s.snap
}

// Close disconnects every client and closes the listener (clients see EOF).
// Output already passed to Broadcast is flushed first: a client is dropped
// once it takes nothing for FlushTimeout, and Close returns after at most
// closeFlushes of them. The socket file stays until Unlink.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	list := s.set.appendTo(nil)
	markShared(list)
	if s.releaseTimer != nil {
		s.releaseTimer.Stop()
	}
	s.mu.Unlock()

	close(s.done) // readers waiting for SetInput give up
	s.stopWatcher()
	err := s.closeListener()
	for _, c := range list {
		c.finish()
	}
	// Each write carries a FlushTimeout deadline, so only a client that keeps
	// taking a trickle lasts until this overall bound.
	limit := closeFlushes * s.opts.FlushTimeout
	if !waitTimeout(&s.writers, limit) {
		s.log.Warnf("attach: clients still flushing after %v; closing them", limit)
		for _, c := range list {
			c.shutdown()
		}
	}
	if err != nil {
		return fmt.Errorf("close attach socket %s: %w", s.path, err)
	}
	return nil
}

// Unlink removes the socket file (§11.1 step 8).
func (s *Server) Unlink() error {
	if err := unix.Unlink(s.path); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove attach socket %s: %w", s.path, err)
	}
	return nil
}

// RemoveSymlink removes the socket-dir symlink (§11.1 step 9, after the exit
// command). An entry that no longer points at our bundle belongs to a newer
// monitor with the same cuuid (or to someone else) and is left alone.
func (s *Server) RemoveSymlink() error {
	if s.symlink == "" {
		return nil
	}
	target, err := os.Readlink(s.symlink)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read attach symlink %s: %w", s.symlink, err)
	}
	if target != s.target {
		s.log.Debugf("attach symlink %s now points to %s; leaving it", s.symlink, target)
		return nil
	}
	if err := unix.Unlink(s.symlink); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove attach symlink %s: %w", s.symlink, err)
	}
	return nil
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// addClient registers an accepted connection; s.acceptMu is held.
func (s *Server) addClient(nfd int) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		unix.Close(nfd)
		return
	}
	c, fresh := newClient(s, nfd)
	s.set.add(c)
	if fresh { // only allocations make garbage to collect (release.go)
		s.burst++
		s.sinceCollect++
	}
	// Under s.mu, so the watcher cannot see an event for c before c is in
	// the set; c is not shared yet, so its fd needs no fdMu.
	ev := unix.EpollEvent{Events: inputEvents, Fd: c.slot, Pad: c.tag()}
	err := s.ctlFd(unix.EPOLL_CTL_ADD, nfd, &ev)
	id := c.id // once registered, the watcher may drop c, and reuse it, at any time
	s.mu.Unlock()
	if err != nil {
		s.log.Warnf("attach client %d: watch: %v", id, err)
		c.shutdown() // never registered: the watcher has not seen it
		return
	}
	if s.debug {
		s.log.Debugf("attach client %d connected", id)
	}
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set.remove(c) && s.set.n.Load() == 0 {
		s.releaseAfterBurst()
	}
}

// numClients is for tests and diagnostics.
func (s *Server) numClients() int { return int(s.set.n.Load()) }

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}
