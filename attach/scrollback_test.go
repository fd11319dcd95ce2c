package attach

import (
	"bytes"
	"fmt"
	"testing"
)

type piece struct {
	stream byte
	data   string
}

func dump(b *scrollback) []piece {
	var out []piece
	b.each(func(s byte, p []byte) {
		if k := len(out); k > 0 && out[k-1].stream == s {
			out[k-1].data += string(p)
			return
		}
		out = append(out, piece{s, string(p)})
	})
	return out
}

func TestScrollbackKeepsTheNewestBytesInOrder(t *testing.T) {
	b := newScrollback(10)
	b.add(2, []byte("abc"))
	b.add(3, []byte("DEF"))
	b.add(2, []byte("gh"))
	if got := fmt.Sprint(dump(b)); got != "[{2 abc} {3 DEF} {2 gh}]" {
		t.Fatalf("got %s", got)
	}
	b.add(2, []byte("ijklm")) // 13 bytes: the 3 oldest go
	if got := fmt.Sprint(dump(b)); got != "[{3 DEF} {2 ghijklm}]" {
		t.Fatalf("got %s", got)
	}
	b.add(3, []byte("0123456789XYZ")) // longer than the ring: its last 10
	if got := fmt.Sprint(dump(b)); got != "[{3 3456789XYZ}]" || b.bytes() != 10 || len(b.runs) != 1 {
		t.Fatalf("got %s, %d bytes, %d runs", got, b.bytes(), len(b.runs))
	}
	if newScrollback(0) != nil {
		t.Fatal("size 0 keeps something")
	}
}

// Against a model: the concatenation of everything added, cut to its last
// size bytes, with each byte's stream.
func FuzzScrollback(f *testing.F) {
	f.Add(uint8(7), []byte("hello world, this is output"), []byte{3, 5, 1, 9})
	f.Fuzz(func(t *testing.T, size uint8, data, cuts []byte) {
		if size == 0 || len(cuts) == 0 {
			return
		}
		b := newScrollback(int(size))
		var all, streams []byte
		for i := 0; len(data) > 0; i++ {
			n := min(len(data), int(cuts[i%len(cuts)]%32)+1)
			s := byte(2 + cuts[i%len(cuts)]&1)
			b.add(s, data[:n])
			all = append(all, data[:n]...)
			streams = append(streams, bytes.Repeat([]byte{s}, n)...)
			data = data[n:]
		}
		k := max(0, len(all)-int(size))
		var got, gotStreams []byte
		b.each(func(s byte, p []byte) {
			got = append(got, p...)
			gotStreams = append(gotStreams, bytes.Repeat([]byte{s}, len(p))...)
		})
		if !bytes.Equal(got, all[k:]) || !bytes.Equal(gotStreams, streams[k:]) || b.bytes() != len(all)-k {
			t.Fatalf("size %d: kept %q (%v), want %q (%v)", size, got, gotStreams, all[k:], streams[k:])
		}
	})
}
