package attach

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/shim-project/shim/cio/stream"
)

// TestQueueMatchesModel pushes and pops random sizes, crossing the ring's
// wrap point and growth steps, and compares with a plain slice of frames.
func TestQueueMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	q := frameQueue{limit: 256 << 10}
	var model [][]byte
	dst := make([]byte, maxFrame)
	off := 0
	for step := range 20000 {
		if rng.IntN(3) > 0 { // push more often than pop, so the ring fills
			size := 1 + rng.IntN(20000)
			p := pattern(off, size)
			stream := stream.Stdout.AttachID() + byte(rng.IntN(2))
			switch r := q.push(stream, p); {
			case r.queued():
				off += size
				for len(p) > 0 {
					n := min(len(p), MaxPayload)
					model = append(model, append([]byte{stream}, p[:n]...))
					p = p[n:]
				}
			case r == pushFull:
				if q.used+recordsSize(size) <= q.limit {
					t.Fatalf("step %d: push of %d refused with %d of %d used", step, size, q.used, q.limit)
				}
			}
			continue
		}
		n, ok := q.pop(dst)
		if ok != (len(model) > 0) {
			t.Fatalf("step %d: pop ok=%v with %d frames in the model", step, ok, len(model))
		}
		if !ok {
			continue
		}
		if !bytes.Equal(dst[:n], model[0]) {
			t.Fatalf("step %d: frame differs (got %d bytes, want %d)", step, n, len(model[0]))
		}
		model = model[1:]
	}
}

func TestQueueLimitIsAllOrNothing(t *testing.T) {
	q := frameQueue{limit: minQueueLimit}
	if q.push(stream.Stdout.AttachID(), make([]byte, minQueueLimit)) != pushFull {
		t.Fatal("a push over the limit (headers included) was accepted")
	}
	if q.used != 0 {
		t.Fatalf("refused push left %d bytes queued", q.used)
	}
	if !q.push(stream.Stdout.AttachID(), make([]byte, minQueueLimit-3*8)).queued() {
		t.Fatal("a push that fits exactly was refused")
	}
}

func TestQueueReleasesBurstMemory(t *testing.T) {
	q := frameQueue{limit: DefaultQueueLimit}
	dst := make([]byte, maxFrame)
	q.push(stream.Stdout.AttachID(), make([]byte, 1<<20))
	for {
		if _, ok := q.pop(dst); !ok {
			break
		}
	}
	if q.ring != nil {
		t.Fatalf("a drained %d-byte ring was kept", len(q.ring))
	}
	q.push(stream.Stdout.AttachID(), []byte("small"))
	for {
		if _, ok := q.pop(dst); !ok {
			break
		}
	}
	if len(q.ring) != initialRing {
		t.Fatalf("small ring of %d bytes not kept for reuse", len(q.ring))
	}
	q.kill()
	if q.push(stream.Stdout.AttachID(), []byte("x")) != pushDead {
		t.Fatal("push after kill accepted")
	}
}

// TestQueueWriterRuns: the push that finds no writer says to start one, a
// writer releases only an empty queue (and gives its ring back), and Close's
// finish says whether the client is idle (no writer to tell).
func TestQueueWriterRuns(t *testing.T) {
	q := frameQueue{limit: DefaultQueueLimit}
	dst := make([]byte, maxFrame)
	id := stream.Stdout.AttachID()
	if r := q.push(id, []byte("a")); r != pushedStart || q.wake == nil || q.progress == nil {
		t.Fatalf("first push: %v, wake-ups made %v", r, q.wake != nil)
	}
	if r := q.push(id, []byte("b")); r != pushed {
		t.Fatalf("push with a writer running: %v", r)
	}
	if q.release() {
		t.Fatal("released a writer with output queued")
	}
	for {
		if _, ok := q.pop(dst); !ok {
			break
		}
	}
	if !q.release() || q.ring != nil {
		t.Fatalf("drained queue not released (ring of %d kept)", len(q.ring))
	}
	if r := q.push(id, []byte("c")); r != pushedStart {
		t.Fatalf("push after release: %v, want a new writer", r)
	}
	if q.finish() {
		t.Fatal("finish with a writer running called the client idle")
	}
	if q.release() {
		t.Fatal("a finishing queue was released: the writer must end the client")
	}

	idle := frameQueue{limit: DefaultQueueLimit}
	if !idle.finish() {
		t.Fatal("finish of a client that never had output: not idle")
	}
	idle.kill()
	if idle.finish() {
		t.Fatal("finish of a client that is gone: idle")
	}
}
