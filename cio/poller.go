package cio

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/pagebuf"
)

// Poller reads a set of output fds (the container's stdout and stderr, or
// its pty master) from one goroutine, in the order the kernel reports them
// ready, and hands every read to the sink.
//
// The fds one poll reports ready are read back to back, each once, and only
// then are the chunks handed to the sink, in the same order. Were each chunk
// handed over before the next fd is read, everything the container wrote
// to stderr while the sink wrote the stdout chunk to the logs would come
// out before the stdout lines written just before it (the sink takes the
// timestamp).
//
// One goroutine per stream would lose that order: when both become readable
// together, Go's scheduler runs the goroutine readied last first, so stderr
// written after stdout was logged first with the earlier timestamp.
//
// The fds sit in an inner epoll instance; its fd is non-blocking and under
// Go's netpoller (an epoll fd is readable while its ready list is not
// empty), so the goroutine waits without pinning an OS thread. Each fd is
// registered edge-triggered, and the poller keeps its own ready queue:
// every poll appends the fds the kernel reports, in its order; each batch
// reads every queued fd once, and an fd that may have more (its read
// filled the buffer, it is a pty, whose reads stop short, or it hung up)
// goes back to the tail, behind the fds that became ready before. That is
// where a one-shot re-arm would put it, without an epoll_ctl per read; a
// pipe whose read came up short is empty, and its next write is a new edge.
// Level-triggered registration would keep a served fd at its old place in
// the ready list, so a stream read a moment ago would be served again
// before one that became ready after it.
type Poller struct {
	sink   func(stream.Stream, []byte)
	woke   func()   // OnWake: before the first chunk after a wait
	quiet  func()   // OnQuiet: after a burst of output, once it paused
	ep     *os.File // the inner epoll instance, under the netpoller
	epfd   int      // its fd: ours alone, valid until Close
	rc     syscall.RawConn
	wait   func(uintptr) bool // p.step, made once: a method value per wait allocates
	srcs   []source
	live   int // sources still registered
	events []unix.EpollEvent
	queue  []int     // ready sources (indices into srcs), oldest first
	batchq []int     // the batch being served: queue as it was
	retry  time.Time // when parked ptys are looked at again; zero if none
	// quietAt is when to look whether the output paused; zero while idle.
	// busy is set by every batch that brought output.
	quietAt    time.Time
	busy       bool
	quietAfter time.Duration // QuietAfter (tests shorten it)
	// keepSize: Add leaves pipes at their size (KeepPipeSize).
	keepSize bool
	parks    int // how often a pty was parked (tests: no busy loop)

	started bool
	stopped atomic.Bool
	done    chan struct{}
	closed  bool
}

type source struct {
	f      *os.File // held so that fd stays open (and unfinalized) while we read it
	fd     int
	stream stream.Stream
	tty    bool
	raw    bool // the fd is non-blocking: reads go out as raw syscalls
	state  uint8
	queued bool            // in p.queue
	hup    bool            // the writer side hung up: read on until EOF
	ev     unix.EpollEvent // the registration, kept so re-arming allocates nothing
	page   *pagebuf.Buf    // buf's memory, given back when output pauses
	buf    []byte          // one read (nil until the first); the exit-time drain reuses it
	n      int             // bytes in buf not yet handed to the sink
}

const (
	armed  uint8 = iota // registered: its edges are reported
	parked              // a pty master without a slave: not armed until p.retry
	gone                // EOF or a read error: deregistered
)

const (
	armEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET
	// ptyRetry: a pty master reads EIO while no slave is open (not yet,
	// or between openers); that is not the end, look again after this.
	ptyRetry = 100 * time.Millisecond
)

// QuietAfter is how long output must pause before the poller gives the
// read buffers' pages back and calls OnQuiet. Only a monitor whose
// container wrote something waits for it, once per pause: an idle one has
// no timer.
const QuietAfter = time.Second

// DrainLimit bounds the exit-time drain of all fds together (see Drain).
const DrainLimit = time.Second

// ErrStarted is returned by Add once the poller runs.
var ErrStarted = errors.New("poller already started")

// NewPoller creates a poller that hands every read to sink, on the
// poller's goroutine, one call at a time.
func NewPoller(sink func(stream.Stream, []byte)) (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("set epoll fd %d non-blocking: %w", epfd, err)
	}
	ep := os.NewFile(uintptr(epfd), "container output epoll")
	// Only a pollable file takes deadlines: this checks that the netpoller
	// watches it, so that waiting parks the goroutine, not a thread.
	if err := ep.SetReadDeadline(time.Time{}); err != nil {
		ep.Close()
		return nil, fmt.Errorf("epoll fd %d under the netpoller: %w", epfd, err)
	}
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("epoll fd %d: %w", epfd, err)
	}
	p := &Poller{sink: sink, ep: ep, epfd: epfd, rc: rc, done: make(chan struct{}), quietAfter: QuietAfter}
	p.wait = p.step
	return p, nil
}

// KeepPipeSize makes Add leave pipes at the kernel's default size: under a
// blocking log rate limit (§16.5) the container should feel the
// back-pressure at once, not after filling a 1 MiB cushion.
func (p *Poller) KeepPipeSize() { p.keepSize = true }

// Add registers an output fd before Start. A pipe (!tty) is grown to
// pipeSize where that costs nobody anything. f must stay open until the
// poller is halted or drained.
func (p *Poller) Add(f *os.File, stream stream.Stream, tty bool) error {
	if p.started {
		return ErrStarted
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("output fd %s: %w", f.Name(), err)
	}
	s := source{f: f, stream: stream, tty: tty, page: pagebuf.New(ReadSize)}
	_ = rc.Control(func(fd uintptr) {
		if !tty && !p.keepSize {
			growPipe(fd)
		}
		s.fd = int(fd)
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		s.raw = err == nil && fl&unix.O_NONBLOCK != 0
	})
	s.ev = unix.EpollEvent{Events: armEvents, Fd: int32(len(p.srcs))}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, s.fd, &s.ev); err != nil {
		return fmt.Errorf("poll output fd %s: %w", f.Name(), err)
	}
	p.srcs = append(p.srcs, s)
	p.live++
	return nil
}

// OnWake sets f to be called, before Start, ahead of the first chunk handed
// over after each wait for output (and ahead of the drain): output that
// follows a pause may be the first one a newly connected reader must see.
func (p *Poller) OnWake(f func()) { p.woke = f }

// OnQuiet sets f to be called, before Start, on the poller's goroutine when
// the output paused for QuietAfter after a burst (the read buffers' pages
// are given back just before): the place to give back what the burst made
// resident elsewhere.
func (p *Poller) OnQuiet(f func()) { p.quiet = f }

// Start begins reading on a goroutine of its own. It ends once every fd
// reached EOF, or at Halt or Drain.
func (p *Poller) Start() {
	p.started = true
	p.events = make([]unix.EpollEvent, max(len(p.srcs), 1))
	p.queue = make([]int, 0, len(p.srcs))
	p.batchq = make([]int, 0, len(p.srcs))
	go p.run()
}

// Done is closed when the poller's goroutine has ended.
func (p *Poller) Done() <-chan struct{} { return p.done }

func (p *Poller) run() {
	defer close(p.done)
	for {
		err := p.rc.Read(p.wait)
		if p.stopped.Load() || p.live == 0 || !errors.Is(err, os.ErrDeadlineExceeded) || (p.retry.IsZero() && p.quietAt.IsZero()) {
			return // halted, all at EOF, or epoll failed
		}
		// The deadline was the parked ptys' retry time or the look for a
		// pause. It changes only before step looks at stopped, so Halt's
		// deadline cannot be lost.
		now := time.Now()
		if !p.retry.IsZero() && !now.Before(p.retry) {
			p.unpark()
		}
		if !p.quietAt.IsZero() && !now.Before(p.quietAt) {
			p.lookForPause(now)
		}
		p.setDeadline()
	}
}

// lookForPause runs at quietAt: output since the last look means the burst
// goes on (look again later); none means it ended, so the pages it made
// resident go back (the read buffers here, the rest in OnQuiet).
func (p *Poller) lookForPause(now time.Time) {
	if p.busy {
		p.busy = false
		p.quietAt = now.Add(p.quietAfter)
		return
	}
	p.quietAt = time.Time{}
	for i := range p.srcs {
		if s := &p.srcs[i]; s.n == 0 && s.buf != nil {
			s.page.Release()
			s.buf = nil
		}
	}
	if p.quiet != nil {
		p.quiet()
	}
}

// setDeadline waits in the netpoller until the earlier of the ptys' retry
// and the look for a pause, or without a deadline if neither is due.
func (p *Poller) setDeadline() {
	d := p.retry
	if d.IsZero() || (!p.quietAt.IsZero() && p.quietAt.Before(d)) {
		d = p.quietAt
	}
	_ = p.ep.SetReadDeadline(d)
}

// step is rc.Read's callback: it serves every ready fd, one read each in
// the order they became ready, until none is ready (false: wait in the
// netpoller) or the poller stops (true). Halt is seen after every batch (a
// chunk per fd), so a writer that never lets the pipe run empty cannot hold
// it.
func (p *Poller) step(uintptr) bool {
	// rc.Read calls step once at first and again after each wait.
	for woken := true; ; woken = false {
		if p.stopped.Load() || p.live == 0 {
			return true
		}
		if !p.collect() {
			return true
		}
		if len(p.queue) == 0 {
			return false
		}
		if woken && p.woke != nil {
			p.woke()
		}
		p.batch(false)
	}
}

// collect polls without waiting and appends the fds the kernel reports, in
// its order, to the queue; false if epoll failed.
func (p *Poller) collect() bool {
	n := p.poll()
	if n < 0 {
		return false
	}
	for _, ev := range p.events[:n] {
		s := &p.srcs[ev.Fd]
		if ev.Events&(unix.EPOLLHUP|unix.EPOLLRDHUP|unix.EPOLLERR) != 0 {
			s.hup = true
		}
		p.enqueue(int(ev.Fd))
	}
	return true
}

func (p *Poller) enqueue(i int) {
	if s := &p.srcs[i]; !s.queued && s.state == armed {
		s.queued = true
		p.queue = append(p.queue, i)
	}
}

// batch serves the queue as it is: one read from each fd, back to back, an
// fd that may have more queued again, then the chunks to the sink in the
// same order, or interleaved when both streams brought a backlog
// (interleave.go).
func (p *Poller) batch(draining bool) {
	p.batchq = append(p.batchq[:0], p.queue...)
	p.queue = p.queue[:0]
	output := false
	for _, i := range p.batchq {
		s := &p.srcs[i]
		s.queued = false
		if s.state != armed {
			continue
		}
		if p.fill(s, draining) {
			p.enqueue(i)
		}
		output = output || s.n > 0
	}
	if output && !draining {
		p.noteOutput()
	}
	if len(p.batchq) == 2 {
		a, b := &p.srcs[p.batchq[0]], &p.srcs[p.batchq[1]]
		if a.n > 0 && b.n > 0 && a.n+b.n <= interleaveMax {
			interleave(newChunk(a.stream, a.buf[:a.n]), newChunk(b.stream, b.buf[:b.n]), p.sink)
			a.n, b.n = 0, 0
			return
		}
	}
	for _, i := range p.batchq {
		if s := &p.srcs[i]; s.n > 0 {
			p.sink(s.stream, s.buf[:s.n])
			s.n = 0
		}
	}
}

// noteOutput records that a batch brought output and, at the start of a
// burst, arms the look for its end (see lookForPause).
func (p *Poller) noteOutput() {
	p.busy = true
	if p.quietAt.IsZero() {
		p.quietAt = time.Now().Add(p.quietAfter)
		p.setDeadline()
	}
}

// poll asks the epoll instance, without waiting, for the ready fds in the
// order they became ready.
func (p *Poller) poll() int { return cabi.EpollReady(p.epfd, p.events) }

// fill does one read from s into s.buf and reports whether s may have
// more. draining: an EIO on a pty ends it (nobody will open a slave any
// more).
func (p *Poller) fill(s *source, draining bool) bool {
	if s.buf == nil {
		s.buf = s.page.Bytes()
	}
	n, e := s.read(s.buf)
	switch {
	case e == unix.EAGAIN:
		return false // empty: the next write is a new edge
	case e == unix.EIO && s.tty && !draining:
		s.state = parked
		p.parks++
		if p.retry.IsZero() {
			p.retry = time.Now().Add(ptyRetry)
			p.setDeadline()
		}
		return false
	case e != 0 || n == 0:
		p.remove(s) // EOF or a read error
		return false
	}
	s.n = n
	// A pipe read that came up short emptied the pipe. A pty's reads stop
	// short of what is there, and after a hang-up only EOF ends it.
	return n == len(s.buf) || s.tty || s.hup
}

// read is one read. With s.raw the fd is non-blocking (pipes, the pty
// master), so it cannot block and goes out as a raw syscall, without the
// scheduler's bookkeeping; a blocking fd gets an ordinary read.
func (s *source) read(buf []byte) (int, unix.Errno) {
	for {
		var r uintptr
		var e unix.Errno
		if s.raw {
			r, _, e = unix.RawSyscall(unix.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		} else {
			r, _, e = unix.Syscall(unix.SYS_READ, uintptr(s.fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		}
		if e != unix.EINTR {
			return int(r), e
		}
	}
}

// arm re-enables s (a parked pty): with edge-triggered registration, the
// modification reports it again if it is ready now. A failure (the fd
// cannot vanish under us) ends it.
func (p *Poller) arm(s *source) {
	s.state = armed
	if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, s.fd, &s.ev) != nil {
		p.remove(s)
	}
}

func (p *Poller) remove(s *source) {
	if s.state == gone {
		return
	}
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	s.state = gone
	p.live--
}

// unpark re-arms the ptys that read EIO; one without a slave still reports
// a hang-up and parks again, once per ptyRetry.
func (p *Poller) unpark() {
	p.retry = time.Time{}
	for i := range p.srcs {
		if p.srcs[i].state == parked {
			p.arm(&p.srcs[i])
		}
	}
}

// Halt stops reading and waits for the poller's goroutine; output still in
// the pipes stays there. It may be called more than once.
func (p *Poller) Halt() {
	p.stopped.Store(true)
	if !p.started {
		return
	}
	_ = p.ep.SetReadDeadline(time.Unix(1, 0))
	<-p.done
	_ = p.ep.SetReadDeadline(time.Time{})
}

// Drain halts the poller, then reads whatever is left, in ready order,
// without waiting for writers that are still alive (children of the
// container may hold the pipes). Such a child may keep writing without
// pause; the exit files must not wait for it (§11.1 "Latency"), hence limit,
// for all fds together.
func (p *Poller) Drain(limit time.Duration) {
	p.Halt()
	if p.closed || p.live == 0 || len(p.events) == 0 {
		return
	}
	deadline := time.Now().Add(limit)
	// A pty may be parked: re-arm it; what the queue holds stays in order.
	for i := range p.srcs {
		if p.srcs[i].state == parked {
			p.arm(&p.srcs[i])
		}
	}
	for woken := true; p.live > 0; woken = false {
		if !p.collect() || len(p.queue) == 0 {
			return
		}
		if woken && p.woke != nil {
			p.woke()
		}
		p.batch(true)
		if !time.Now().Before(deadline) {
			return
		}
	}
}

// Close halts the poller and releases its epoll fd; the output fds stay
// open (they belong to the caller).
func (p *Poller) Close() error {
	p.Halt()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.ep.Close()
}
