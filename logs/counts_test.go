package logs

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shim-project/shim/cio/stream"
)

// TestK8sCounts: bytes, lines and partial entries per stream match what was
// written, chunk boundaries included.
func TestK8sCounts(t *testing.T) {
	f, _ := openTestLog(t, FileOptions{})
	mustWrite(t, f, stream.Stdout, "one\ntwo\nthr", ts1)
	mustWrite(t, f, stream.Stdout, "ee\n", ts1)
	mustWrite(t, f, stream.Stderr, "err\n", ts1)
	mustWrite(t, f, stream.Stderr, "no newline", ts1)
	got := f.Counts().Snapshot()
	want := Totals{Bytes: [2]uint64{14, 14}, Lines: [2]uint64{3, 1}, Partial: [2]uint64{1, 1}}
	if got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if i, ok := stream.Stderr.Index(); !ok || i != 1 {
		t.Fatalf("stream.Stderr.Index() = %d, %v", i, ok)
	}
}

// TestK8sCountsDrops: output cut off by --log-global-size-max and bytes a
// full disk refused are counted apart, and a size-limit rotation differs
// from a requested reopen.
func TestK8sCountsDrops(t *testing.T) {
	line := "0123456789\n" // entry cost hdrLen+11
	cost := int64(hdrLen + len(line))
	f, _ := openTestLog(t, FileOptions{GlobalSizeMax: 2 * cost})
	mustWrite(t, f, stream.Stdout, strings.Repeat(line, 5), ts1)
	got := f.Counts().Snapshot()
	if got.Lines[0] != 2 || got.Bytes[0] != 22 || got.DroppedLimit != 33 {
		t.Fatalf("global limit: %+v, want 2 lines, 22 bytes, 33 dropped", got)
	}

	full, err := OpenK8sLog("/dev/full", FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	full.WriteAt(stream.Stdout, []byte("lost\n"), ts1)
	full.WriteAt(stream.Stdout, bytes.Repeat([]byte{'b'}, bigEntry+1), ts1)
	got = full.Counts().Snapshot()
	want := uint64(hdrLen+5) + uint64(hdrLen+bigEntry+2)
	if got.DroppedNoSpace != want || got.Errors != 2 || got.DroppedError != 0 {
		t.Fatalf("disk full: %+v, want %d bytes lost to ENOSPC in 2 errors", got, want)
	}

	dir := t.TempDir()
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: filepath.Join(dir, "ctr.log")}}, SizeMax: 2 * cost})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(false)
	if err := w.Write(stream.Stdout, []byte(strings.Repeat(line, 5))); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	file, journal := w.Counts()
	if journal != nil {
		t.Fatal("journal counts without a journald driver")
	}
	if got := file.Snapshot(); got.Rotations != 2 || got.Reopens != 1 {
		t.Fatalf("rotations %d, reopens %d; want 2 and 1", got.Rotations, got.Reopens)
	}
}

// TestJournalCounts: entries sent count as lines or partials; a send that
// fails counts as an error and its bytes as dropped.
func TestJournalCounts(t *testing.T) {
	s := newFakeJournal(t)
	j := newTestJournal(t, s, JournalOptions{})
	if err := j.Write(stream.Stdout, []byte("a\nbb\npart")); err != nil {
		t.Fatal(err)
	}
	s.entry(t)
	s.entry(t)
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	s.entry(t)
	got := j.Counts().Snapshot()
	want := Totals{Bytes: [2]uint64{9, 0}, Lines: [2]uint64{2, 0}, Partial: [2]uint64{1, 0}}
	if got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}

	gone := newTestJournal(t, &fakeJournal{path: filepath.Join(t.TempDir(), "missing")}, JournalOptions{})
	if err := gone.Write(stream.Stderr, []byte("lost\n")); err == nil {
		t.Fatal("send to a missing journal succeeded")
	}
	if got := gone.Counts().Snapshot(); got.Errors != 1 || got.DroppedError != 5 || got.Lines[1] != 0 {
		t.Fatalf("failed send: %+v, want 1 error and 5 bytes dropped", got)
	}
}
