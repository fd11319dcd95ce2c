package attach

import "sync"

// ringPool holds initial-size rings: a client gets one with its first output
// and gives it back once its writer has drained it and stopped, so an attach
// session that sits idle holds no ring at all.
var ringPool = sync.Pool{New: func() any { return new([initialRing]byte) }}

const (
	// MaxPayload is the largest payload of one output datagram; engines read
	// with 8193-byte buffers, so a larger datagram would be truncated (§8.2).
	MaxPayload = 8192
	maxFrame   = 1 + MaxPayload

	// DefaultQueueLimit bounds the output one client may have pending
	// before Broadcast waits for it (backpressure.go). 1 MiB, on top of the
	// ~200 KiB the kernel buffers per socket, absorbs a reader's hiccups
	// without stalling the data path, and is what Close may still have to
	// flush at exit. The memory is only used while a client actually lags
	// (see shrinkAbove).
	DefaultQueueLimit = 1 << 20
	minQueueLimit     = 64 << 10

	// recHeader is the big-endian length stored before each frame in the ring.
	recHeader = 2
	// initialRing is taken from ringPool at a client's first output and kept
	// while its writer runs, so a steady stream to a keeping-up client
	// allocates nothing.
	initialRing = 32 << 10
	// shrinkAbove: once a queue that grew past this drains to empty, the big
	// ring is released; a lag burst does not pin megabytes for the session.
	shrinkAbove = 128 << 10
)

type pushResult int

const (
	pushed      pushResult = iota
	pushedStart            // queued, and no writer runs: the caller starts one
	pushFull               // over the limit: the client must be dropped
	pushDead               // the client is already gone
)

// queued reports that the push took the data.
func (r pushResult) queued() bool { return r == pushed || r == pushedStart }

// frameQueue is one client's pending output: a byte ring holding
// [len u16][stream][payload] records. Each Broadcast copies into the ring
// (one memcpy per client, cheap next to the write syscall), which gives exact
// byte accounting and needs neither reference counts nor per-frame objects.
type frameQueue struct {
	mu    sync.Mutex
	ring  []byte
	head  int          // offset of the oldest record
	used  int          // bytes held
	data  payloadCount // payload queued or being written (Stats)
	limit int
	dead  bool
	// writer: a writer goroutine is draining the queue. It is set by the
	// push that finds none (pushedStart) and cleared by release, both under
	// mu, so exactly one runs while anything is queued.
	writer    bool
	finishing bool // the server is closing: the writer drains, then ends the client
	// The writer's wake-ups, made for its first run (an idle client has
	// none): wake (cap 1) says output is queued or Close wants the client
	// finished; progress (cap 1) that a write completed (backpressure.go).
	wake, progress chan struct{}
}

// claimWriter records that a writer runs from now on; q.mu is held.
func (q *frameQueue) claimWriter() {
	q.writer = true
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
		q.progress = make(chan struct{}, 1)
	}
}

// recordsSize is the ring space p takes once split into MaxPayload pieces.
func recordsSize(n int) int {
	frames := (n + MaxPayload - 1) / MaxPayload
	return n + frames*(recHeader+1)
}

// push queues p as one datagram per MaxPayload piece, all or nothing.
func (q *frameQueue) push(stream byte, p []byte) pushResult {
	need := recordsSize(len(p))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead {
		return pushDead
	}
	if q.used+need > q.limit {
		return pushFull
	}
	if q.used+need > len(q.ring) {
		q.grow(q.used + need)
	}
	q.data.add(len(p))
	for len(p) > 0 {
		n := min(len(p), MaxPayload)
		hdr := [recHeader + 1]byte{byte((n + 1) >> 8), byte(n + 1), stream}
		q.put(hdr[:])
		q.put(p[:n])
		p = p[n:]
	}
	if !q.writer {
		q.claimWriter()
		return pushedStart
	}
	return pushed
}

// release ends a writer's run when nothing is queued and the server is not
// closing (then the writer must end the client itself); the ring goes back
// to the pool. False: the writer goes on.
func (q *frameQueue) release() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.used > 0 || q.finishing && !q.dead {
		return false
	}
	q.writer = false
	q.dropRing()
	return true
}

// finish marks the queue as finishing (Close) and reports whether the
// client is idle: neither gone already nor with a writer, which is then told
// and ends the client once drained. Queued output always has a writer
// (push claims one), so an idle client has nothing to flush.
func (q *frameQueue) finish() (idle bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.finishing = true
	return !q.dead && !q.writer
}

// pop moves the oldest frame ([stream][payload]) into dst, which must hold
// maxFrame bytes.
func (q *frameQueue) pop(dst []byte) (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead || q.used == 0 {
		return 0, false
	}
	var hdr [recHeader]byte
	q.take(hdr[:])
	n := int(hdr[0])<<8 | int(hdr[1])
	q.take(dst[:n])
	if q.used == 0 {
		q.head = 0
		if len(q.ring) > shrinkAbove {
			q.dropRing()
		}
	}
	return n, true
}

// size is the ring space in use, for diagnostics.
func (q *frameQueue) size() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}

func (q *frameQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used == 0
}

// kill discards everything and makes later pushes report pushDead.
func (q *frameQueue) kill() {
	q.mu.Lock()
	q.dead = true
	q.dropRing()
	q.head, q.used = 0, 0
	q.mu.Unlock()
}

// dropRing lets go of the ring; an initial-size one goes back to the pool.
func (q *frameQueue) dropRing() {
	if len(q.ring) == initialRing {
		ringPool.Put((*[initialRing]byte)(q.ring))
	}
	q.ring = nil
}

// grow reallocates the ring (doubling, capped at the limit) and linearises it.
func (q *frameQueue) grow(atLeast int) {
	size := max(2*len(q.ring), initialRing)
	for size < atLeast {
		size *= 2
	}
	size = max(min(size, q.limit), atLeast)
	var ring []byte
	if size == initialRing {
		ring = ringPool.Get().(*[initialRing]byte)[:]
	} else {
		ring = make([]byte, size)
	}
	if q.used > 0 {
		n := copy(ring, q.ring[q.head:min(q.head+q.used, len(q.ring))])
		copy(ring[n:q.used], q.ring)
	}
	q.dropRing()
	q.ring, q.head = ring, 0
}

// put appends b at the tail; the caller made room.
func (q *frameQueue) put(b []byte) {
	tail := q.head + q.used
	if tail >= len(q.ring) {
		tail -= len(q.ring)
	}
	n := copy(q.ring[tail:], b)
	copy(q.ring, b[n:])
	q.used += len(b)
}

// take removes len(dst) bytes from the head.
func (q *frameQueue) take(dst []byte) {
	n := copy(dst, q.ring[q.head:])
	copy(dst[n:], q.ring)
	q.head += len(dst)
	if q.head >= len(q.ring) {
		q.head -= len(q.ring)
	}
	q.used -= len(dst)
}
