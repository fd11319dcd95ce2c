package attach

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shim-project/shim/internal/cabi"
)

// FuzzWinsz checks the winsz FIFO parser (§9) against a reference built
// from cabi.Strtol, conmon's sscanf("%d %d"): a resize happens exactly when
// two integers lead the line and both, truncated to a C int, are in
// 0..1000, and then with those values. A well-formed "%d %d\n" line, fed
// through the line buffer, resizes to exactly its numbers.
func FuzzWinsz(f *testing.F) {
	for _, s := range []struct {
		h, w int64
		line string
	}{
		{24, 80, "24 80"}, {0, 0, "0 0"}, {1000, 0, "1000 1000"}, {0, 1000, "0 1000"}, {1000, 1000, "1000 1001"}, {1001, 5, "-1 5"},
		{-1, 5, "+14 +15 junk"}, {4294967298, 3, "0010 0x20"}, {1 << 62, -(1 << 40), "10.5 20"},
		{7, 8, " \t7\n8"}, {2, 2, "99999999999999999999 5"}, {3, 3, "24"},
	} {
		f.Add(s.h, s.w, []byte(s.line))
	}
	f.Fuzz(func(t *testing.T, h, w int64, line []byte) {
		// Arbitrary bytes as one line (winszLine gets lines without '\n').
		var got []string
		rec := func(gh, gw uint16) { got = append(got, fmt.Sprintf("%dx%d", gh, gw)) }
		winszLine(nopLogger{}, line, rec)
		if want := winszReference(line); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: resized %v, reference %v", line, got, want)
		}

		// A well-formed line through the line buffer.
		got = nil
		var lb lineBuf
		n := copy(lb.space(), fmt.Sprintf("%d %d\n", h, w))
		lb.commit(n, func(l []byte) bool { return winszLine(nopLogger{}, l, rec) })
		var want []string
		if ch, cw := int32(h), int32(w); inSpecRange(ch) && inSpecRange(cw) { // C long → int, as conmon
			want = []string{fmt.Sprintf("%dx%d", ch, cw)}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("\"%d %d\\n\": resized %v, want %v", h, w, got, want)
		}
	})
}

// winszReference is what conmon HEAD does with one winsz line: two strtol
// conversions, each truncated to int, both range-checked.
func winszReference(line []byte) []string {
	h, end, _ := cabi.Strtol(line, 10)
	if end == 0 {
		return nil
	}
	w, end2, _ := cabi.Strtol(line[end:], 10)
	if end2 == 0 {
		return nil
	}
	ch, cw := int32(h), int32(w)
	if !inSpecRange(ch) || !inSpecRange(cw) {
		return nil
	}
	return []string{fmt.Sprintf("%dx%d", ch, cw)}
}

// inSpecRange is §9's bound, written out here rather than taken from
// validSize so that the fuzz targets check the code against the spec.
func inSpecRange(v int32) bool { return v >= 0 && v <= 1000 }

// FuzzFraming pushes fuzzed chunks of output for stdout (2) and stderr (3)
// into a client queue, popping at fuzzed moments, and checks what a client
// would receive (§8.2): every datagram is 2..1+MaxPayload bytes, carries the
// id of the chunk it came from, a chunk becomes ceil(len/MaxPayload)
// datagrams of which only the last is short, and per stream the payloads
// concatenate to exactly the bytes pushed.
func FuzzFraming(f *testing.F) {
	f.Add([]byte("hello\n"), []byte{0, 1, 2, 3}, uint8(0))
	f.Add([]byte("0123456789abcdef"), []byte{0x3d, 0x40, 0xfe, 0x03}, uint8(200))
	f.Add(bytes.Repeat([]byte{0xff, 0}, 100), []byte{0xfc, 0xfd, 0x02, 0x7f}, uint8(255))
	f.Add([]byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data, ops []byte, rep uint8) {
		// Small inputs fuzz fast; repeating them reaches past MaxPayload.
		payload := bytes.Repeat(data, 1+int(rep))
		if len(ops) == 0 {
			ops = []byte{0xff}
		}
		q := frameQueue{limit: minQueueLimit}
		var sent, recv [2][]byte // by stream id - 2
		type frame struct {
			id   byte
			last bool // the last datagram of its chunk may be short
		}
		var want []frame // the datagrams expected, in order
		dst := make([]byte, maxFrame)
		popAll := func() {
			for {
				n, ok := q.pop(dst)
				if !ok {
					return
				}
				if n < 2 || n > maxFrame {
					t.Fatalf("datagram of %d bytes", n)
				}
				if len(want) == 0 {
					t.Fatalf("datagram %q that was never pushed", dst[:min(n, 16)])
				}
				if dst[0] != want[0].id {
					t.Fatalf("datagram with stream id %d, want %d", dst[0], want[0].id)
				}
				if n != maxFrame && !want[0].last {
					t.Fatalf("short datagram (%d bytes) before the end of its chunk", n)
				}
				want = want[1:]
				recv[dst[0]-2] = append(recv[dst[0]-2], dst[1:n]...)
			}
		}
		for i := 0; len(payload) > 0; i++ {
			op := ops[i%len(ops)]
			id := 2 + op&1
			n := min(len(payload), (int(op>>2)+1)*521) // up to ~4 datagrams
			if op&2 != 0 {
				popAll()
			}
			if !q.push(id, payload[:n]).queued() {
				popAll() // a full queue takes the chunk once drained
				if r := q.push(id, payload[:n]); !r.queued() {
					t.Fatalf("push of %d bytes into an empty queue: %v", n, r)
				}
			}
			for range (n - 1) / MaxPayload {
				want = append(want, frame{id, false})
			}
			want = append(want, frame{id, true})
			sent[id-2] = append(sent[id-2], payload[:n]...)
			payload = payload[n:]
		}
		popAll()
		if len(want) != 0 || q.used != 0 {
			t.Fatalf("%d datagrams never popped, %d bytes left in the queue", len(want), q.used)
		}
		for i := range sent {
			if !bytes.Equal(sent[i], recv[i]) {
				t.Fatalf("stream %d: received %d bytes that differ from the %d sent", i+2, len(recv[i]), len(sent[i]))
			}
		}
	})
}
