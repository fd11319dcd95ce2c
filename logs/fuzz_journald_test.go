package logs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// journalEnd is a datagram the fuzz target sends itself after the last
// entry; the driver's datagrams always start with "MESSAGE".
const journalEnd = "end of fuzz input"

// drainJournal reads datagrams from s until journalEnd and returns them on
// the channel. It runs beside the writer because journald sends block when
// the socket queue is full. Errors (the socket's 5 s timeout, a memfd,
// which entries of at most 16 KiB never need) end the list with a
// datagram the test reports.
func drainJournal(s *fakeJournal) <-chan [][]byte {
	out := make(chan [][]byte, 1)
	go func() {
		var got [][]byte
		buf := make([]byte, 1<<16)
		oob := make([]byte, unix.CmsgSpace(4))
		for {
			n, oobn, _, _, err := unix.Recvmsg(s.fd, buf, oob, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil || oobn != 0 {
				got = append(got, []byte(fmt.Sprintf("recv: %v, %d bytes of control data", err, oobn)))
				break
			}
			if string(buf[:n]) == journalEnd {
				break
			}
			got = append(got, bytes.Clone(buf[:n]))
		}
		out <- got
	}()
	return out
}

// FuzzJournaldRoundTrip writes a fuzzed byte string, cut into fuzzed chunks
// on both streams (as FuzzK8sRoundTrip does), to the journald driver and
// flushes it. Per stream (told by PRIORITY), the MESSAGE values of the
// entries concatenated must give the stream's bytes back; an entry is
// flagged partial exactly when its MESSAGE does not end in '\n', holds a
// '\n' only at its end, and is never larger than a held partial line plus
// one piece. Partial lines are joined as conmon joins them: before the
// final flush, a partial entry goes out only once the held bytes and the
// next piece reach partialMax.
func FuzzJournaldRoundTrip(f *testing.F) {
	f.Add([]byte("out\npartial"), []byte{11, 0x84}, uint8(1), uint8(1))
	f.Add([]byte("a\nb\n\n\nc"), []byte{1, 0x81, 2, 0x83}, uint8(1), uint8(1))
	f.Add([]byte("0123456789abcdef"), []byte{0x7f, 3, 0xff}, uint8(200), uint8(100))
	f.Add([]byte("x\n"+strings.Repeat("y", 8191)+"\n"), []byte{0x7f, 0x7f}, uint8(3), uint8(255))
	f.Add([]byte(strings.Repeat("z", 8192)), []byte{0x01, 0x7f}, uint8(2), uint8(255))
	// 8188 bytes held, then 3 more: 8191 still fit the partial buffer.
	f.Add([]byte(strings.Repeat("h", 8191)), []byte{91}, uint8(0), uint8(88))
	f.Add([]byte("\x00\r\x1b[0m \t\xff\n"), []byte{1, 2, 3}, uint8(9), uint8(1))
	f.Fuzz(func(t *testing.T, data, cuts []byte, rep, scale uint8) {
		input := bytes.Repeat(data, int(rep%64)+1)
		input = input[:min(len(input), 40<<10)] // keeps an exec in milliseconds
		s := newFakeJournal(t)
		j := newTestJournal(t, s, JournalOptions{})
		done := drainJournal(s)

		var want [2][]byte // stdout, stderr
		for i := 0; len(input) > 0; i++ {
			c := byte(0x7f)
			if len(cuts) > 0 {
				c = cuts[min(i, len(cuts)-1)]
			}
			n := min(len(input), (int(c&0x7f)+1)*(int(scale)+1))
			st, idx := stream.Stdout, 0
			if c&0x80 != 0 {
				st, idx = stream.Stderr, 1
			}
			if err := j.Write(st, input[:n]); err != nil {
				t.Fatal(err)
			}
			want[idx] = append(want[idx], input[:n]...)
			input = input[n:]
		}
		if err := j.Flush(); err != nil {
			t.Fatal(err)
		}
		// Through the driver's socket, whose send retries the EINTR and
		// EAGAIN a plain sendto gets from SO_SNDTIMEO on a full queue.
		if err := j.conn.send([]byte(journalEnd)); err != nil {
			t.Fatal(err)
		}

		type entry struct {
			msg     string
			partial bool
		}
		var got [2][]entry
		for _, raw := range <-done {
			if !bytes.HasPrefix(raw, []byte("MESSAGE")) {
				t.Fatalf("datagram %q", raw)
			}
			fs := parseNative(t, raw)
			e, idx := entry{msg: fs[0].value}, -1
			for _, f := range fs {
				switch {
				case f.name == "CONTAINER_PARTIAL_MESSAGE":
					e.partial = true
				case f == field{"PRIORITY", "6"}:
					idx = 0
				case f == field{"PRIORITY", "3"}:
					idx = 1
				}
			}
			if fs[0].name != "MESSAGE" || idx < 0 {
				t.Fatalf("entry without MESSAGE first or PRIORITY 6/3: %s", fieldsString(fs))
			}
			got[idx] = append(got[idx], e)
		}
		for idx, es := range got {
			var all []byte
			for k, e := range es {
				nl := strings.IndexByte(e.msg, '\n')
				if e.partial != (nl < 0) || (nl >= 0 && nl != len(e.msg)-1) {
					t.Fatalf("stream %d entry %d: MESSAGE %q with partial=%v", idx, k, e.msg, e.partial)
				}
				if len(e.msg) > partialMax-1+maxContent || len(e.msg) == 0 {
					t.Fatalf("stream %d entry %d: MESSAGE of %d bytes", idx, k, len(e.msg))
				}
				if e.partial && k < len(es)-1 && len(e.msg) < partialMax {
					t.Fatalf("stream %d entry %d: partial MESSAGE of %d bytes sent before the flush", idx, k, len(e.msg))
				}
				all = append(all, e.msg...)
			}
			if !bytes.Equal(all, want[idx]) {
				t.Fatalf("stream %d: journal got\n%q\nwritten\n%q", idx, all, want[idx])
			}
		}
	})
}
