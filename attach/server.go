package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
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
}

// Server is the attach socket: it accepts clients, fans output out to all of
// them and forwards their input to the container.
type Server struct {
	opts    Options
	log     Logger
	path    string // <bundle>/attach
	symlink string // <socket-dir>/<cuuid>, "" with FullAttach
	target  string // what symlink points to (the absolute bundle)
	ln      *os.File

	// clients is an immutable snapshot (newest first) replaced on every
	// accept/removal, so Broadcast reads it with one atomic load.
	clients atomic.Pointer[[]*client]
	mu      sync.Mutex // serialises snapshot updates and closing
	// acceptMu makes "take from the backlog" and "add to the snapshot" one
	// step, so AcceptPending never finds the backlog empty while the accept
	// loop holds a connection it has not registered yet.
	acceptMu sync.Mutex
	closing  bool
	done     chan struct{} // closed by Close
	writers  sync.WaitGroup
	nextID   atomic.Uint64
	stats    counters // totals for Stats

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
	if opts.Input != nil {
		s.SetInput(opts.Input)
	}
	s.writers.Add(1)
	go s.acceptLoop()
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
	list := s.clients.Load()
	if list == nil || len(p) == 0 {
		return
	}
	// The frame's id byte (§8.2). Nothing else may ever be sent: podman's
	// reader aborts on any other id.
	id := st.AttachID()
	if id == 0 {
		s.log.Warnf("attach: refusing to send stream %d", st)
		return
	}
	for _, c := range *list {
		switch c.q.push(id, p) {
		case pushed:
			c.signal()
		case pushFull:
			s.waitRoom(c, id, p)
		}
	}
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
	list := s.clients.Load()
	s.mu.Unlock()

	close(s.done) // readers waiting for SetInput give up
	err := s.ln.Close()
	if list != nil {
		for _, c := range *list {
			c.finish()
		}
	}
	// Each write carries a FlushTimeout deadline, so only a client that keeps
	// taking a trickle lasts until this overall bound.
	limit := closeFlushes * s.opts.FlushTimeout
	if !waitTimeout(&s.writers, limit) && list != nil {
		s.log.Warnf("attach: clients still flushing after %v; closing them", limit)
		for _, c := range *list {
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

func (s *Server) acceptLoop() {
	defer s.writers.Done()
	rc, err := s.ln.SyscallConn()
	if err != nil {
		s.log.Warnf("attach socket %s: %v", s.path, err)
		return
	}
	for {
		err := s.acceptOne(rc)
		switch {
		case err == nil:
		case s.isClosing():
			return
		case errors.Is(err, unix.ECONNABORTED), errors.Is(err, unix.EINTR):
		default:
			// EMFILE and friends: keep serving, without spinning.
			s.log.Warnf("accept on attach socket %s: %v", s.path, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// acceptOne waits for one connection and registers it; the accepted socket
// is non-blocking so it too lives under the runtime poller.
func (s *Server) acceptOne(rc syscall.RawConn) error {
	var aerr error
	err := rc.Read(func(fd uintptr) bool {
		s.acceptMu.Lock()
		defer s.acceptMu.Unlock()
		var nfd int
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if aerr == nil {
			s.addClient(nfd)
		}
		return !errors.Is(aerr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return aerr
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) addClient(nfd int) {
	c, err := newClient(s, nfd)
	if err != nil {
		s.log.Warnf("attach client: %v", err)
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.f.Close()
		return
	}
	s.writers.Add(1)
	s.storeClients(c, nil)
	s.mu.Unlock()
	s.log.Debugf("attach client %d connected", c.id)
	go c.readLoop()
	go c.writeLoop()
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	s.storeClients(nil, c)
	s.mu.Unlock()
}

// storeClients publishes a new snapshot with add prepended and/or drop
// removed; s.mu must be held. An empty list is stored as nil.
func (s *Server) storeClients(add, drop *client) {
	var next []*client
	if add != nil {
		next = append(next, add)
	}
	if old := s.clients.Load(); old != nil {
		for _, c := range *old {
			if c != drop {
				next = append(next, c)
			}
		}
	}
	if len(next) == 0 {
		s.clients.Store(nil)
		return
	}
	s.clients.Store(&next)
}

// numClients is for tests and diagnostics.
func (s *Server) numClients() int {
	if l := s.clients.Load(); l != nil {
		return len(*l)
	}
	return 0
}

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

// AcceptPending takes every connection already waiting in the backlog,
// without blocking. The accept loop would take them too, but only when the
// scheduler gets to it: output read before then would miss a client that
// connected before the container started (podman connects, then runs
// `runtime start` or sends the exec's second go byte), so the data path
// calls this before each broadcast.
func (s *Server) AcceptPending() {
	rc, err := s.ln.SyscallConn()
	if err != nil {
		return
	}
	s.acceptMu.Lock()
	defer s.acceptMu.Unlock()
	_ = rc.Control(func(fd uintptr) {
		for {
			nfd, _, err := unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err != nil {
				return
			}
			s.addClient(nfd)
		}
	})
}
