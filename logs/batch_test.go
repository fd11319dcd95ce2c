package logs

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

// reference formats a chunk the plain way: split at '\n', cut pieces longer
// than maxContent, one entry each.
func reference(stream string, p []byte) string {
	var b strings.Builder
	for len(p) > 0 {
		line, full := p, false
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, full = p[:i+1], true
		}
		if len(line) > maxContent {
			line, full = line[:maxContent], false
		}
		p = p[len(line):]
		tag, nl := "F ", ""
		if !full {
			tag, nl = "P ", "\n"
		}
		b.WriteString(ts1s + " " + stream + " " + tag + string(line) + nl)
	}
	return b.String()
}

// TestK8sBatchMatchesReference: chunks of random line lengths (empty lines,
// short ones copied into the buffer, big ones passed by reference, lines
// longer than maxContent, enough of them to overflow the buffer and the
// iovecs) come out exactly as the plain formatting says.
func TestK8sBatchMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		f, p := openTestLog(t, FileOptions{})
		var chunk []byte
		for len(chunk) < 256<<10 {
			var n int
			switch rng.IntN(4) {
			case 0:
				n = rng.IntN(4)
			case 1:
				n = rng.IntN(bigEntry + 2)
			case 2:
				n = bigEntry + rng.IntN(maxContent)
			default:
				n = rng.IntN(3 * maxContent)
			}
			chunk = append(chunk, bytes.Repeat([]byte{byte('a' + round%26)}, n)...)
			chunk = append(chunk, '\n')
		}
		if rng.IntN(2) == 0 {
			chunk = chunk[:len(chunk)-1-rng.IntN(100)] // end in a partial line
		}
		if err := f.WriteAt(stream.Stderr, chunk, ts1); err != nil {
			t.Fatal(err)
		}
		want := reference("stderr", chunk)
		if got := readFile(t, p); got != want {
			t.Fatalf("round %d: got %d bytes, want %d (first difference at %d)", round, len(got), len(want), firstDiff(got, want))
		}
		if f.size != int64(len(want)) {
			t.Fatalf("round %d: size counter %d, file %d", round, f.size, len(want))
		}
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < min(len(a), len(b)); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestK8sCutsHalfWrittenEntry: when the file cannot grow any more in the
// middle of a batch (here RLIMIT_FSIZE; on a full disk ENOSPC does the
// same), the entry written only in part is cut off again, so the file ends
// on a whole entry and later output starts on a line of its own.
func TestK8sCutsHalfWrittenEntry(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "first\n", ts1)
	first := readFile(t, p)

	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// Room for the first entry, one more whole entry and half of a third.
	entry := hdrLen + 100
	lim := unix.Rlimit{Cur: uint64(len(first) + entry + entry/2), Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 99) + "\n"
	err := f.WriteAt(stream.Stdout, []byte(line+line+line), ts1)
	if rerr := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if !errors.Is(err, unix.EFBIG) {
		t.Fatalf("write past the limit: %v, want EFBIG", err)
	}
	want := first + ts1s + " stdout F " + line
	if got := readFile(t, p); got != want {
		t.Fatalf("after the failed write the file holds %d bytes, want %d (whole entries only):\n%q", len(got), len(want), got)
	}
	if f.size != int64(len(want)) || f.total != int64(len(want)) {
		t.Fatalf("counters %d/%d, file %d", f.size, f.total, len(want))
	}
	mustWrite(t, f, stream.Stdout, "after\n", ts1)
	if got := readFile(t, p); got != want+ts1s+" stdout F after\n" {
		t.Fatalf("after recovery: %q", got)
	}
}

// TestK8sBigEntriesOneWritev: a 64 KiB read of one long line is cut into
// eight pieces that leave in a single writev, nothing copied but headers.
func TestK8sBigEntriesOneWritev(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	chunk := append(bytes.Repeat([]byte{'y'}, 64<<10-1), '\n')
	if err := f.WriteAt(stream.Stdout, chunk, ts1); err != nil {
		t.Fatal(err)
	}
	if f.writes != 1 {
		t.Fatalf("64 KiB line took %d writes, want 1", f.writes)
	}
	if got, want := readFile(t, p), reference("stdout", chunk); got != want {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}
