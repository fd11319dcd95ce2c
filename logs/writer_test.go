package logs

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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
	if err := w.Write(Stdout, []byte("one\ntwo\nthr")); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Stderr, nil); err != nil {
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
		if w.Write(Stdout, []byte("x\n")) != nil || w.Reopen() != nil || w.Flush() != nil ||
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
func TestWriterJournalDownFileKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ctr.log")
	w, err := New(Options{
		Specs:       []Spec{{Kind: Journald}, {Kind: K8sFile, Path: p}},
		ContainerID: testCID, JournalSocket: filepath.Join(dir, "missing"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(false)
	for i := 0; i < 3; i++ {
		err := w.Write(Stderr, []byte("x\n"))
		if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "sd_journal_sendv: ") {
			t.Fatalf("error = %v", err)
		}
	}
	if got := contents(t, p); len(got) != 3 {
		t.Fatalf("file has %d entries", len(got))
	}
}

func TestWriterReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: p}}, SizeMax: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(true)
	w.Write(Stdout, []byte("a\n"))
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.Write(Stdout, []byte("b\n"))
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
	w.Write(Stdout, chunk)
	if a := testing.AllocsPerRun(500, func() { w.Write(Stderr, chunk) }); a != 0 {
		t.Fatalf("%v allocations per Writer.Write, want 0", a)
	}
}
