package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

var (
	ts1 = time.Date(2026, 11, 27, 2, 10, 25, 400794344, time.UTC)
	ts2 = time.Date(2026, 11, 27, 2, 10, 25, 400878800, time.UTC)
)

const ts1s = "2026-11-27T02:10:25.400794344+00:00"

// openTestLog opens a k8s log in a fresh temp dir.
func openTestLog(t *testing.T, o FileOptions) (*K8sLog, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ctr.log")
	f, err := OpenK8sLog(p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, f *K8sLog, s stream.Stream, p string, ts time.Time) {
	t.Helper()
	if err := f.WriteAt(s, []byte(p), ts); err != nil {
		t.Fatal(err)
	}
}

// TestK8sContractExample is §10.2's example: `echo out; printf partial` in
// one read, then `echo err >&2`.
func TestK8sContractExample(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "out\npartial", ts1)
	mustWrite(t, f, stream.Stderr, "err\n", ts2)
	want := "2026-11-27T02:10:25.400794344+00:00 stdout F out\n" +
		"2026-11-27T02:10:25.400794344+00:00 stdout P partial\n" +
		"2026-11-27T02:10:25.400878800+00:00 stderr F err\n"
	if got := readFile(t, p); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestK8sChunks(t *testing.T) {
	h := ts1s + " stdout "
	tests := []struct {
		name  string
		chunk string
		want  string
	}{
		{"empty chunk", "", ""},
		{"full line", "hello\n", h + "F hello\n"},
		{"two lines", "a\nb\n", h + "F a\n" + h + "F b\n"},
		{"partial", "abc", h + "P abc\n"},
		{"full then partial", "a\nb", h + "F a\n" + h + "P b\n"},
		{"only newline", "\n", h + "F \n"},
		{"empty lines", "\n\n", h + "F \n" + h + "F \n"},
		{"empty line then text", "\nx", h + "F \n" + h + "P x\n"},
		{"spaces kept", "  a b  \n", h + "F   a b  \n"},
		{"carriage return kept", "a\r\n", h + "F a\r\n"},
		{"binary kept", "\x00\xff\n", h + "F \x00\xff\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := openTestLog(t, FileOptions{})
			mustWrite(t, f, stream.Stdout, tc.chunk, ts1)
			if got := readFile(t, p); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestK8sNoThreeFieldLines checks every line has at least four
// space-separated fields, the rule podman's parser enforces.
func TestK8sNoThreeFieldLines(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	for _, c := range []string{"\n", "a\n", "b", "\n\n", "c\n\n", "x", "\n"} {
		mustWrite(t, f, stream.Stderr, c, ts1)
	}
	for _, line := range strings.SplitAfter(readFile(t, p), "\n") {
		if line == "" {
			continue
		}
		if fields := strings.SplitN(line, " ", 4); len(fields) != 4 {
			t.Fatalf("line %q has %d fields", line, len(fields))
		}
	}
}

// TestK8sLongLineChunked: a line longer than one read arrives as several
// chunks; each chunk without '\n' is its own P entry.
func TestK8sLongLineChunked(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	line := bytes.Repeat([]byte("0123456789abcdef"), 1250) // 20000 bytes
	line = append(line, '\n')
	var want strings.Builder
	for rest := line; len(rest) > 0; {
		n := min(8192, len(rest))
		if err := f.WriteAt(stream.Stdout, rest[:n], ts1); err != nil {
			t.Fatal(err)
		}
		tag, nl := "P ", "\n"
		if rest[n-1] == '\n' {
			tag, nl = "F ", ""
		}
		want.WriteString(ts1s + " stdout " + tag + string(rest[:n]) + nl)
		rest = rest[n:]
	}
	got := readFile(t, p)
	if got != want.String() {
		t.Fatalf("long line: got %d bytes, want %d", len(got), want.Len())
	}
	if n := strings.Count(got, " stdout P "); n != 2 {
		t.Fatalf("want 2 P entries, got %d", n)
	}
}

// TestK8sHugeChunk: 1 MiB without newline in one call becomes P entries of
// maxContent bytes each, as conmon's 8 KiB reads make them, written through
// writev without growing the batch buffer.
func TestK8sHugeChunk(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "before\n", ts1) // leaves nothing queued
	big := bytes.Repeat([]byte{'z'}, 1<<20)
	if err := f.WriteAt(stream.Stdout, append([]byte("x\n"), big...), ts1); err != nil {
		t.Fatal(err)
	}
	want := ts1s + " stdout F before\n" + ts1s + " stdout F x\n" +
		strings.Repeat(ts1s+" stdout P "+string(big[:maxContent])+"\n", len(big)/maxContent)
	if got := readFile(t, p); got != want {
		t.Fatalf("huge chunk: got %d bytes, want %d", len(got), len(want))
	}
	if cap(f.buf) != bufSize {
		t.Fatalf("batch buffer grew to %d", cap(f.buf))
	}
	if f.size != int64(len(want)) || f.total != int64(len(want)) {
		t.Fatalf("counters %d/%d, file %d", f.size, f.total, len(want))
	}
}

// TestK8sLongLinePieces: lines longer than maxContent are cut into P pieces
// of exactly maxContent bytes, the rest ending the line as F; a line of
// exactly maxContent bytes (its '\n' included) stays whole.
func TestK8sLongLinePieces(t *testing.T) {
	for _, n := range []int{maxContent - 1, maxContent, maxContent + 1, 3*maxContent + 5} {
		f, p := openTestLog(t, FileOptions{})
		line := append(bytes.Repeat([]byte{'a'}, n-1), '\n')
		chunk := append(append([]byte("pre\n"), line...), "post"...)
		mustWrite(t, f, stream.Stdout, string(chunk), ts1)
		var want strings.Builder
		want.WriteString(ts1s + " stdout F pre\n")
		rest := line
		for len(rest) > maxContent {
			want.WriteString(ts1s + " stdout P " + string(rest[:maxContent]) + "\n")
			rest = rest[maxContent:]
		}
		want.WriteString(ts1s + " stdout F " + string(rest))
		want.WriteString(ts1s + " stdout P post\n")
		if got := readFile(t, p); got != want.String() {
			t.Errorf("line of %d bytes: got %d bytes, want %d", n, len(got), want.Len())
		}
	}
}

func TestK8sInterleaving(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "o1\no2", ts1)
	mustWrite(t, f, stream.Stderr, "e1\n", ts2)
	mustWrite(t, f, stream.Stdout, "o3\n", ts2)
	mustWrite(t, f, stream.Stderr, "e2", ts1)
	h1, h2 := ts1s+" ", "2026-11-27T02:10:25.400878800+00:00 "
	want := h1 + "stdout F o1\n" + h1 + "stdout P o2\n" + h2 + "stderr F e1\n" +
		h2 + "stdout F o3\n" + h1 + "stderr P e2\n"
	if got := readFile(t, p); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestK8sBatching: the entries of one chunk go out in one write(2) when
// they fit the batch buffer, and in few when they do not.
func TestK8sBatching(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	chunk := bytes.Repeat([]byte("0123456789\n"), 200) // 200 entries, 11200 bytes
	if err := f.WriteAt(stream.Stdout, chunk, ts1); err != nil {
		t.Fatal(err)
	}
	if f.writes != 1 {
		t.Fatalf("200 entries took %d writes, want 1", f.writes)
	}
	if got := len(readFile(t, p)); got != 200*(45+11) {
		t.Fatalf("file has %d bytes", got)
	}
	// Worst case: a full read of newlines, 8192 entries of 46 bytes.
	f.writes = 0
	if err := f.WriteAt(stream.Stdout, bytes.Repeat([]byte{'\n'}, 8192), ts1); err != nil {
		t.Fatal(err)
	}
	if max := 8192*46/bufSize + 1; f.writes > max {
		t.Fatalf("8192 empty lines took %d writes, want <= %d", f.writes, max)
	}
	// A big entry: queued header and content leave in a single writev.
	f.writes = 0
	if err := f.WriteAt(stream.Stdout, append([]byte("a\n"), bytes.Repeat([]byte{'z'}, 100000)...), ts1); err != nil {
		t.Fatal(err)
	}
	if f.writes != 1 {
		t.Fatalf("line + big entry took %d writes, want 1", f.writes)
	}
}

func TestK8sOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing", "ctr.log"), "Failed to open log file No such file or directory"},
		{dir, "Failed to open log file Is a directory"},
		{filepath.Join(dir, "ctr.log") + "/x", "Failed to open log file No such file or directory"},
	}
	for _, tc := range tests {
		_, err := OpenK8sLog(tc.path, FileOptions{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("OpenK8sLog(%s) error = %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, err := OpenK8sLog(filepath.Join(dir, "nope", "x"), FileOptions{}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("open error %v does not unwrap to ENOENT", err)
	}
}

// TestK8sOpenRefusesPlantedName: the log's directory may be writable by
// others. A symlink at the log's name is not followed (its target is neither
// created nor written), and a FIFO neither blocks the open nor is written.
func TestK8sOpenRefusesPlantedName(t *testing.T) {
	for _, tc := range []struct{ kind, want string }{
		{"symlink", "Failed to open log file Too many levels of symbolic links"},
		{"dangling symlink", "Failed to open log file Too many levels of symbolic links"},
		{"fifo", "Failed to open log file No such device or address"},
		{"fifo with a reader", "Failed to open log file %s: not a regular file"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ctr.log")
			victim := newVictim(t)
			plant(t, strings.TrimSuffix(tc.kind, " with a reader"), p, victim)
			if strings.HasSuffix(tc.kind, "with a reader") {
				r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
			}
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, p)
			}
			done := make(chan error, 1)
			go func() {
				f, err := OpenK8sLog(p, FileOptions{})
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || err.Error() != want {
					t.Fatalf("OpenK8sLog = %v, want %q", err, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OpenK8sLog blocked on the planted name")
			}
			checkVictim(t, victim)
		})
	}
	t.Run("character device", func(t *testing.T) {
		f, err := OpenK8sLog("/dev/null", FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		mustWrite(t, f, stream.Stdout, "x\n", ts1)
	})
}

// TestK8sOpenKeepsContent: never truncated at start, counters start at the
// existing size.
func TestK8sOpenKeepsContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	if err := os.WriteFile(p, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenK8sLog(p, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.size != 4 || f.total != 4 {
		t.Fatalf("counters start at %d/%d, want 4", f.size, f.total)
	}
	mustWrite(t, f, stream.Stdout, "new\n", ts1)
	if got, want := readFile(t, p), "old\n"+ts1s+" stdout F new\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestK8sRelativePath: a relative path is resolved against the cwd at open
// time, so a later chdir does not move the log.
func TestK8sRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	f, err := OpenK8sLog("rel.log", FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Chdir(t.TempDir())
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, stream.Stdout, "x\n", ts1)
	if got := readFile(t, filepath.Join(dir, "rel.log")); got != ts1s+" stdout F x\n" {
		t.Fatalf("got %q", got)
	}
	if f.Path() != "rel.log" {
		t.Fatalf("Path() = %q", f.Path())
	}
}

// TestK8sWriteErrorKeepsWorking: /dev/full fails every write with ENOSPC;
// the error comes back, nothing panics, the counters stay true, and once
// the fd is healthy again the next chunk is written alone (nothing of the
// failed one left queued).
func TestK8sWriteErrorKeepsWorking(t *testing.T) {
	f, err := OpenK8sLog("/dev/full", FileOptions{SizeMax: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; i < 3; i++ {
		err := f.WriteAt(stream.Stdout, []byte("lost line\n"), ts1)
		if !errors.Is(err, unix.ENOSPC) || !strings.Contains(err.Error(), "/dev/full") {
			t.Fatalf("write %d: error = %v, want ENOSPC naming the path", i, err)
		}
		big := bytes.Repeat([]byte{'b'}, bigEntry+1)
		if err := f.WriteAt(stream.Stdout, big, ts1); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("big write %d: error = %v", i, err)
		}
	}
	if f.size != 0 || f.total != 0 {
		t.Fatalf("counters %d/%d after failed writes, want 0", f.size, f.total)
	}
	p := filepath.Join(t.TempDir(), "ok.log")
	fd, err := openLog(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(f.fd)
	f.fd = fd // the disk has space again
	mustWrite(t, f, stream.Stdout, "kept\n", ts1)
	if got := readFile(t, p); got != ts1s+" stdout F kept\n" {
		t.Fatalf("after recovery got %q", got)
	}
}

func TestK8sInvalidStreamAndClosed(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	if err := f.WriteAt(stream.Stream(0), []byte("x\n"), ts1); err == nil {
		t.Fatal("stream 0 accepted")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.WriteAt(stream.Stdout, []byte("x\n"), ts1); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := f.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("reopen after close: %v", err)
	}
	if got := readFile(t, p); got != "" {
		t.Fatalf("file got %q", got)
	}
}

// TestK8sZeroAllocs: steady-state writes (one line, a 64 KiB chunk of lines,
// a partial line, a big entry through writev) allocate nothing.
func TestK8sZeroAllocs(t *testing.T) {
	f, err := OpenK8sLog("/dev/null", FileOptions{SizeMax: 1 << 40, GlobalSizeMax: 1 << 60})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := append(bytes.Repeat([]byte{'a'}, 99), '\n')
	chunk := bytes.Repeat(line, 64<<10/100)
	big := bytes.Repeat([]byte{'b'}, 64<<10)
	for name, p := range map[string][]byte{"line": line, "chunk": chunk, "partial": line[:50], "big": big} {
		f.Write(stream.Stdout, p) // warm up: allocate the batch buffer
		allocs := testing.AllocsPerRun(200, func() {
			if err := f.Write(stream.Stdout, p); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Write, want 0", name, allocs)
		}
	}
}
