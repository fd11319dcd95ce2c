package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shim-project/shim/cio/stream"
)

// contents returns the file's entries as their content only ("line 1", …).
func contents(t *testing.T, p string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.SplitAfter(readFile(t, p), "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if len(f) != 4 {
			t.Fatalf("bad line %q", l)
		}
		out = append(out, strings.TrimSuffix(f[3], "\n"))
	}
	return out
}

// writeLines writes "line 1".."line n", one chunk per line or all at once.
func writeLines(t *testing.T, f *K8sLog, n int, oneChunk bool) {
	t.Helper()
	var all strings.Builder
	for i := 1; i <= n; i++ {
		l := fmt.Sprintf("line %d\n", i)
		if oneChunk {
			all.WriteString(l)
			continue
		}
		mustWrite(t, f, stream.Stdout, l, ts1)
	}
	if oneChunk {
		mustWrite(t, f, stream.Stdout, all.String(), ts1)
	}
}

func TestSizeMax(t *testing.T) {
	tests := []struct {
		max  int64
		want string
	}{
		{10, "line 10"},                       // every entry replaces the previous one
		{120, "line 9,line 10"},               // two 52/53-byte entries fit
		{52, "line 10"},                       // exactly one entry fits
		{104, "line 10"},                      // 52+53 = 105 does not fit
		{105, "line 9,line 10"},               // …and at 105 it fits exactly
		{0, strings.TrimSuffix(seq(10), ",")}, // unlimited
		{-1, strings.TrimSuffix(seq(10), ",")},
	}
	for _, tc := range tests {
		for _, oneChunk := range []bool{false, true} {
			t.Run(fmt.Sprintf("M=%d/oneChunk=%v", tc.max, oneChunk), func(t *testing.T) {
				f, p := openTestLog(t, FileOptions{SizeMax: tc.max})
				writeLines(t, f, 10, oneChunk)
				if got := strings.Join(contents(t, p), ","); got != tc.want {
					t.Fatalf("file holds %q, want %q", got, tc.want)
				}
			})
		}
	}
}

func seq(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d,", i)
	}
	return b.String()
}

// TestSizeMaxStartsAtExistingSize: a file already near the limit is
// truncated before the first new entry.
func TestSizeMaxStartsAtExistingSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	if err := os.WriteFile(p, []byte(strings.Repeat("x", 100)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenK8sLog(p, FileOptions{SizeMax: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeLines(t, f, 1, false)
	if got := strings.Join(contents(t, p), ","); got != "line 1" {
		t.Fatalf("file holds %q", got)
	}
}

// TestGlobalSizeMax: §10.3's examples with 52-byte entries.
func TestGlobalSizeMax(t *testing.T) {
	tests := []struct {
		global, size int64
		want         string
	}{
		{104, 0, "line 1,line 2"},
		{120, 0, "line 1,line 2,line 3"},
		{105, 60, "line 3"},
		{1, 0, "line 1"}, // the crossing entry is written in full
		{0, 0, "line 1,line 2,line 3,line 4,line 5,line 6,line 7,line 8,line 9"},
	}
	for _, tc := range tests {
		for _, oneChunk := range []bool{false, true} {
			t.Run(fmt.Sprintf("G=%d/M=%d/oneChunk=%v", tc.global, tc.size, oneChunk), func(t *testing.T) {
				f, p := openTestLog(t, FileOptions{GlobalSizeMax: tc.global, SizeMax: tc.size})
				writeLines(t, f, 9, oneChunk)
				if got := strings.Join(contents(t, p), ","); got != tc.want {
					t.Fatalf("file holds %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// TestGlobalSizeMaxSurvivesReopen: neither a ctl reopen nor a truncation
// resets the global total; it starts at the existing size.
func TestGlobalSizeMaxSurvivesReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	if err := os.WriteFile(p, []byte(strings.Repeat("x", 51)+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenK8sLog(p, FileOptions{GlobalSizeMax: 156})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	writeLines(t, f, 1, false) // total 104
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeLines(t, f, 3, false) // line 1 crosses 156, lines 2-3 dropped
	if got := strings.Join(contents(t, p), ","); got != "line 1" {
		t.Fatalf("file holds %q", got)
	}
	if f.total != 156 {
		t.Fatalf("total = %d, want 156", f.total)
	}
}

// TestEntryCost: the counters equal the bytes on disk for F and P entries.
func TestEntryCost(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "full\npart", ts1)
	mustWrite(t, f, stream.Stderr, "\n", ts1)
	n := int64(len(readFile(t, p)))
	if want := int64(45+5) + (45 + 4 + 1) + (45 + 1); n != want || f.size != n || f.total != n {
		t.Fatalf("file %d bytes, counters %d/%d, want %d", n, f.size, f.total, want)
	}
}
