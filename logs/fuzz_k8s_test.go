package logs

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// k8sLayout formats a k8s-file timestamp independently of stampCache.
const k8sLayout = "2006-01-02T15:04:05.000000000-07:00"

// k8sEntry is one parsed line of a k8s-file log (§10.2).
type k8sEntry struct {
	ts      string
	stream  string
	full    bool
	content []byte
}

// parseK8sFile splits a k8s-file log into entries, failing the test on any
// line that is not "<timestamp> <stream> <P|F> <content>".
func parseK8sFile(t *testing.T, b []byte) []k8sEntry {
	t.Helper()
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("last entry has no '\\n': %q", b[bytes.LastIndexByte(b, '\n')+1:])
	}
	var out []k8sEntry
	for _, line := range bytes.Split(b[:len(b)-1], []byte{'\n'}) {
		if len(line) < hdrLen || line[tsLen] != ' ' || line[tsLen+7] != ' ' || line[hdrLen-1] != ' ' {
			t.Fatalf("malformed entry %q", line)
		}
		e := k8sEntry{ts: string(line[:tsLen]), stream: string(line[tsLen+1 : tsLen+7]), content: line[hdrLen:]}
		switch line[tagAt] {
		case 'F':
			e.full = true
		case 'P':
		default:
			t.Fatalf("entry tag %q in %q", line[tagAt], line)
		}
		if e.stream != "stdout" && e.stream != "stderr" {
			t.Fatalf("entry stream %q in %q", e.stream, line)
		}
		out = append(out, e)
	}
	return out
}

// FuzzK8sRoundTrip writes a fuzzed byte string, cut into fuzzed chunks on
// both streams, to a k8s-file log without limits. Every chunk has its own
// timestamp, so the file must give back each chunk exactly: the contents of
// its entries, F ones plus "\n", in order. It must also keep the shape
// readers rely on: no entry longer than maxContent, and a P entry before
// the chunk's last one only where a long line was cut, i.e. exactly
// maxContent bytes. rep repeats data so that lines longer than an entry
// are reached without huge inputs; each byte of cuts is one chunk (high bit:
// stderr; low bits scaled by scale: its length), the rest of the data goes
// in chunks of the last length. At most 40 KiB are written.
func FuzzK8sRoundTrip(f *testing.F) {
	f.Add([]byte("out\npartial"), []byte{11, 0x84}, uint8(1), uint8(1), int16(0))
	f.Add([]byte("a\nb\n\n\nc"), []byte{1, 0x81, 2, 0x83}, uint8(1), uint8(1), int16(60))
	f.Add([]byte("0123456789abcdef"), []byte{0x7f, 3, 0xff}, uint8(200), uint8(100), int16(-300))
	f.Add([]byte("x\n"+strings.Repeat("y", 8191)+"\n"), []byte{0x7f, 0x7f}, uint8(3), uint8(255), int16(330))
	f.Add([]byte(strings.Repeat("z", 8192)), []byte{0x7f}, uint8(2), uint8(255), int16(0))
	f.Add([]byte("\x00\r\x1b[0m \t\xff\n"), []byte{1, 2, 3}, uint8(9), uint8(1), int16(-1))
	f.Fuzz(func(t *testing.T, data, cuts []byte, rep, scale uint8, zone int16) {
		input := bytes.Repeat(data, int(rep%64)+1)
		input = input[:min(len(input), 40<<10)] // keeps an exec in milliseconds
		loc := time.FixedZone("", int(zone%(24*60))*60)
		base := time.Date(2026, 11, 27, 23, 59, 59, 999_999_000, time.UTC).In(loc)
		l, p := openTestLog(t, FileOptions{})

		type chunk struct {
			ts     string
			stream string
			data   []byte
		}
		var chunks []chunk
		for i := 0; len(input) > 0; i++ {
			c := byte(0x7f)
			if len(cuts) > 0 {
				c = cuts[min(i, len(cuts)-1)]
			}
			n := min(len(input), (int(c&0x7f)+1)*(int(scale)+1))
			s, name := stream.Stdout, "stdout"
			if c&0x80 != 0 {
				s, name = stream.Stderr, "stderr"
			}
			ts := base.Add(time.Duration(i) * 333 * time.Nanosecond)
			if err := l.WriteAt(s, input[:n], ts); err != nil {
				t.Fatal(err)
			}
			chunks = append(chunks, chunk{ts.Format(k8sLayout), name, input[:n]})
			input = input[n:]
		}

		entries := parseK8sFile(t, []byte(readFile(t, p)))
		for i, c := range chunks {
			var got []byte
			for len(entries) > 0 && entries[0].ts == c.ts {
				e := entries[0]
				entries = entries[1:]
				if e.stream != c.stream {
					t.Fatalf("chunk %d on %s logged as %s", i, c.stream, e.stream)
				}
				if len(e.content) > maxContent {
					t.Fatalf("chunk %d: entry of %d bytes", i, len(e.content))
				}
				last := len(entries) == 0 || entries[0].ts != c.ts
				if !e.full && !last && len(e.content) != maxContent {
					t.Fatalf("chunk %d: P entry of %d bytes before the chunk's end", i, len(e.content))
				}
				if bytes.IndexByte(e.content, '\n') >= 0 {
					t.Fatalf("chunk %d: content %q holds a '\\n'", i, e.content)
				}
				got = append(got, e.content...)
				if e.full {
					got = append(got, '\n')
				}
			}
			if !bytes.Equal(got, c.data) {
				t.Fatalf("chunk %d (%s, %s): logged\n%q\nwritten\n%q", i, c.stream, c.ts, got, c.data)
			}
		}
		if len(entries) > 0 {
			t.Fatalf("%d entries left over, first %+v", len(entries), entries[0])
		}
	})
}
