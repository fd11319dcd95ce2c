package attach

// scrollback keeps the last size bytes of the container's output, both
// streams in the order written, for clients that connect later (§16.6).
// The bytes sit in a ring allocated at the first output; runs record which
// stream each stretch belongs to. Guarded by the Server's bmu.
type scrollback struct {
	size  int
	buf   []byte // ring of size bytes, nil until the first output
	start int    // offset of the oldest byte
	used  int
	runs  []run // oldest first; their lengths sum to used
}

// run is a stretch of one stream's bytes.
type run struct {
	stream byte // attach id, 2 or 3
	n      int
}

func newScrollback(size int) *scrollback {
	if size <= 0 {
		return nil
	}
	return &scrollback{size: size}
}

// add keeps p as the newest output of stream, forgetting the oldest bytes
// beyond size.
func (b *scrollback) add(stream byte, p []byte) {
	if len(p) > b.size {
		p = p[len(p)-b.size:]
	}
	if b.buf == nil {
		b.buf = make([]byte, b.size)
	}
	if over := b.used + len(p) - b.size; over > 0 {
		b.forget(over)
	}
	end := (b.start + b.used) % b.size
	n := copy(b.buf[end:], p)
	copy(b.buf, p[n:])
	b.used += len(p)
	if k := len(b.runs); k > 0 && b.runs[k-1].stream == stream {
		b.runs[k-1].n += len(p)
	} else {
		b.runs = append(b.runs, run{stream, len(p)})
	}
}

// forget drops the n oldest bytes.
func (b *scrollback) forget(n int) {
	b.start = (b.start + n) % b.size
	b.used -= n
	i := 0
	for n > 0 {
		if b.runs[i].n > n {
			b.runs[i].n -= n
			break
		}
		n -= b.runs[i].n
		i++
	}
	b.runs = append(b.runs[:0], b.runs[i:]...)
}

// each calls f for every run, oldest first, with its bytes (at most two
// pieces where the ring wraps). p is only valid during the call.
func (b *scrollback) each(f func(stream byte, p []byte)) {
	off := b.start
	for _, r := range b.runs {
		n := r.n
		for n > 0 {
			k := min(n, b.size-off)
			f(r.stream, b.buf[off:off+k])
			off = (off + k) % b.size
			n -= k
		}
	}
}

// bytes is how much is kept.
func (b *scrollback) bytes() int { return b.used }

// replay queues the kept output for a new client c, before it is in the
// set; s.scrollMu and s.mu are held. Its writer starts with the first
// chunk, as for live output.
func (s *Server) replay(c *client) {
	if s.scroll == nil || s.scroll.bytes() == 0 {
		return
	}
	n := s.scroll.bytes()
	s.scroll.each(func(stream byte, p []byte) {
		c.queued(c.q.push(stream, p))
	})
	s.stats.replays.Add(1)
	s.stats.replayBytes.Add(uint64(n))
}
