package logs

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

func TestWriterFanOut(t *testing.T) {
	s := newFakeJournal(t)
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := New(Options{
		Specs:       []Spec{{Kind: K8sFile, Path: p + ".ignored"}, {Kind: Journald}, {Kind: K8sFile, Path: p}},
		ContainerID: testCID, JournalSocket: s.path,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := w.Drivers(); !d.K8sFile || !d.Journald || d.Path != p || w.File().Path() != p {
		t.Fatalf("drivers %+v", d)
	}
	if err := w.Write(stream.Stdout, []byte("one\ntwo\nthr")); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(stream.Stderr, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, p), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("k8s-file lines %q", lines)
	}
	stamp := lines[0][:tsLen]
	for i, want := range []string{" stdout F one", " stdout F two", " stdout P thr"} {
		if lines[i] != stamp+want {
			t.Errorf("line %d = %q, want one shared timestamp + %q", i, lines[i], want)
		}
	}
	for _, want := range []string{"one\n", "two\n", "thr"} {
		if got := s.entry(t)[0].value; got != want {
			t.Errorf("journal MESSAGE %q, want %q", got, want)
		}
	}
	s.expectNothing(t)
	if exists(p + ".ignored") {
		t.Error("an overridden k8s-file path was created")
	}
}

func TestWriterNoDrivers(t *testing.T) {
	for _, specs := range [][]Spec{{{Kind: None}}, {{Kind: Passthrough}}, nil} {
		w, err := New(Options{Specs: specs})
		if err != nil {
			t.Fatal(err)
		}
		if w.Write(stream.Stdout, []byte("x\n")) != nil || w.Reopen() != nil || w.Flush() != nil ||
			w.Sync() != nil || w.Close(true) != nil || w.File() != nil {
			t.Fatalf("%v: no-op writer reported an error", specs)
		}
	}
}

func TestWriterOpenError(t *testing.T) {
	_, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: filepath.Join(t.TempDir(), "no", "ctr.log")}}})
	if err == nil || err.Error() != "Failed to open log file No such file or directory" {
		t.Fatalf("error = %v", err)
	}
}

// TestWriterJournalDownFileKeepsGoing: a missing journal is reported but
// the k8s-file still gets everything.
// journalDownWriter returns a Writer for a k8s-file and a journald whose
// socket does not exist, and the file's path.
func journalDownWriter(t *testing.T) (*Writer, string) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ctr.log")
	w, err := New(Options{
		Specs:       []Spec{{Kind: Journald}, {Kind: K8sFile, Path: p}},
		ContainerID: testCID, JournalSocket: filepath.Join(dir, "missing"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(false) })
	return w, p
}

func TestWriterJournalDownFileKeepsGoing(t *testing.T) {
	w, p := journalDownWriter(t)
	// The failure is reported when it starts, not again for every chunk.
	err := w.Write(stream.Stderr, []byte("x\n"))
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "sd_journal_sendv: ") {
		t.Fatalf("error = %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := w.Write(stream.Stderr, []byte("x\n")); err != nil {
			t.Fatalf("repeated failure reported again: %v", err)
		}
	}
	if got := contents(t, p); len(got) != 3 {
		t.Fatalf("file has %d entries", len(got))
	}
	if _, j := w.Counts(); j.Errors.Load() != 3 {
		t.Fatalf("journald errors counted %d, want 3", j.Errors.Load())
	}
	// Nor when the held partial line cannot be flushed at the end.
	if err := w.Write(stream.Stdout, []byte("partial")); err != nil {
		t.Fatalf("held partial: %v", err)
	}
	if err := w.Close(false); err != nil {
		t.Fatalf("Close during the failure run: %v", err)
	}
}

// TestWriterReportsEachFailureOnset: one driver failing does not hide the
// other's failure; a failure run survives writes that work in between (a
// full disk where a small entry still fits) and ends only after failQuiet
// without failures, after which a failure is reported again.
func TestWriterReportsEachFailureOnset(t *testing.T) {
	w, p := journalDownWriter(t)
	at := func(sec int) time.Time { return ts1.Add(time.Duration(sec) * time.Second) }
	if err := w.writeAt(stream.Stdout, []byte("a\n"), at(0)); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("journald down: %v", err)
	}
	good := w.file.fd
	full, err := unix.Open("/dev/full", unix.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(full)
	steps := []struct {
		sec    int
		full   bool
		report bool // ENOSPC returned
	}{
		{1, true, true},    // the disk fills up while journald is down
		{2, true, false},   // still full
		{3, false, false},  // a small entry fits
		{4, true, false},   // full again within the same run
		{30, false, false}, // space again, 26 s after the last failure
		{35, false, false}, // 31 s: the run is over
		{36, true, true},   // a new run
	}
	for _, s := range steps {
		w.file.fd = good
		if s.full {
			w.file.fd = full
		}
		err := w.writeAt(stream.Stdout, []byte("x\n"), at(s.sec))
		if got := errors.Is(err, unix.ENOSPC); got != s.report || errors.Is(err, unix.ENOENT) {
			t.Fatalf("at %ds (full %v): error %v, want ENOSPC reported: %v, and no journald error", s.sec, s.full, err, s.report)
		}
	}
	w.file.fd = good
	if got := contents(t, p); len(got) != 4 {
		t.Fatalf("file has %d entries, want 4", len(got))
	}
}

func TestWriterReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: p}}, SizeMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(true)
	w.Write(stream.Stdout, []byte("a\n"))
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.Write(stream.Stdout, []byte("b\n"))
	if got := strings.Join(contents(t, p), ","); got != "b" {
		t.Fatalf("after reopen %q", got)
	}
}

func TestWriterZeroAllocs(t *testing.T) {
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: "/dev/null"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(false)
	chunk := bytes.Repeat([]byte(strings.Repeat("w", 99)+"\n"), 80)
	w.Write(stream.Stdout, chunk)
	if a := testing.AllocsPerRun(500, func() { w.Write(stream.Stderr, chunk) }); a != 0 {
		t.Fatalf("%v allocations per Writer.Write, want 0", a)
	}
}
