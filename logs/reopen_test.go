package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestRotateNaming is §10.5's example: ten 52-byte entries, M=120, rotate.
func TestRotateNaming(t *testing.T) {
	tests := []struct {
		maxFiles int
		want     map[string]string // suffix -> lines
	}{
		{1, map[string]string{"": "line 9,line 10", ".1": "line 7,line 8", ".2": "line 5,line 6"}},
		{2, map[string]string{"": "line 9,line 10", ".1": "line 7,line 8", ".2": "line 5,line 6"}},
		{3, map[string]string{"": "line 9,line 10", ".1": "line 7,line 8", ".2": "line 5,line 6", ".3": "line 3,line 4"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("max-files=%d", tc.maxFiles), func(t *testing.T) {
			f, p := openTestLog(t, FileOptions{SizeMax: 120, Rotate: true, MaxFiles: tc.maxFiles})
			writeLines(t, f, 10, false)
			for suffix, want := range tc.want {
				if got := strings.Join(contents(t, p+suffix), ","); got != want {
					t.Errorf("%s holds %q, want %q", "ctr.log"+suffix, got, want)
				}
			}
			extra := fmt.Sprintf("%s.%d", p, max(tc.maxFiles, 2)+1)
			for _, q := range []string{extra, p + ".new", p + ".tmp"} {
				if exists(q) {
					t.Errorf("%s exists", q)
				}
			}
		})
	}
}

// TestReopenTruncateRecreates: kubelet renames the log away and sends ctl
// type 2; the file must exist again as soon as Reopen returns, and new
// output goes there while the renamed file keeps the old output.
func TestReopenTruncateRecreates(t *testing.T) {
	for _, how := range []string{"rename", "delete", "in place"} {
		t.Run(how, func(t *testing.T) {
			f, p := openTestLog(t, FileOptions{})
			mustWrite(t, f, stream.Stdout, "old\n", ts1)
			switch how {
			case "rename":
				if err := os.Rename(p, p+".20260101"); err != nil {
					t.Fatal(err)
				}
			case "delete":
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Reopen(); err != nil {
				t.Fatal(err)
			}
			if st, err := os.Stat(p); err != nil || st.Size() != 0 {
				t.Fatalf("after Reopen: %v, %v; want an empty file", st, err)
			}
			mustWrite(t, f, stream.Stdout, "new\n", ts1)
			if got := contents(t, p); len(got) != 1 || got[0] != "new" {
				t.Fatalf("new file holds %q", got)
			}
			if how == "rename" {
				if got := contents(t, p+".20260101"); len(got) != 1 || got[0] != "old" {
					t.Fatalf("renamed file holds %q", got)
				}
			}
			if exists(p + ".tmp") {
				t.Fatal(".tmp left behind")
			}
		})
	}
}

// TestReopenTruncateFailureKeepsOldFd: when the directory is gone the reopen
// fails, and logging goes on into the old file.
func TestReopenTruncateFailureKeepsOldFd(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "ctr.log")
	os.Mkdir(filepath.Dir(p), 0o755)
	f, err := OpenK8sLog(p, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(filepath.Dir(p), moved); err != nil {
		t.Fatal(err)
	}
	err = f.Reopen()
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), p+".tmp") {
		t.Fatalf("Reopen error = %v, want ENOENT naming %s.tmp", err, p)
	}
	mustWrite(t, f, stream.Stdout, "still here\n", ts1)
	if got := contents(t, filepath.Join(moved, "ctr.log")); len(got) != 1 || got[0] != "still here" {
		t.Fatalf("old file holds %q", got)
	}
}

// TestRotateRenamedAway: with --log-rotate a log renamed by someone else is
// not recreated; output keeps going to the renamed file.
func TestRotateRenamedAway(t *testing.T) {
	f, p := openTestLog(t, FileOptions{Rotate: true, MaxFiles: 1})
	mustWrite(t, f, stream.Stdout, "a\n", ts1)
	if err := os.Rename(p, p+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil {
		t.Fatal("rotation of a renamed file succeeded")
	}
	if exists(p) {
		t.Fatal("rotation recreated the path")
	}
	mustWrite(t, f, stream.Stdout, "b\n", ts1)
	if got := strings.Join(contents(t, p+".moved"), ","); got != "a,b" {
		t.Fatalf("renamed file holds %q", got)
	}
}

// TestRotateSkippedRetries: a directory at .new blocks rotation (it is not
// ours to remove); the old file is kept (not truncated), the counter is not
// reset, and the next entry over the limit tries again and succeeds once
// .new is gone.
func TestRotateSkippedRetries(t *testing.T) {
	f, p := openTestLog(t, FileOptions{SizeMax: 60, Rotate: true, MaxFiles: 1})
	if err := os.Mkdir(p+".new", 0o755); err != nil {
		t.Fatal(err)
	}
	writeLines(t, f, 1, false)
	err := f.WriteAt(stream.Stdout, []byte("line 2\n"), ts1)
	if !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("write with a directory at .new: %v, want EISDIR", err)
	}
	if got := strings.Join(contents(t, p), ","); got != "line 1,line 2" {
		t.Fatalf("file holds %q", got)
	}
	if f.size != 104 {
		t.Fatalf("counter %d, want 104 (not reset)", f.size)
	}
	os.Remove(p + ".new")
	mustWrite(t, f, stream.Stdout, "line 3\n", ts1)
	if got := strings.Join(contents(t, p), ","); got != "line 3" {
		t.Fatalf("file holds %q after retry", got)
	}
	if got := strings.Join(contents(t, p+".1"), ","); got != "line 1,line 2" {
		t.Fatalf(".1 holds %q", got)
	}
}

// TestRotateSafetyChecks: each failed check skips the rotation.
func TestRotateSafetyChecks(t *testing.T) {
	t.Run("dotdot", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "a"), 0o755)
		f, err := OpenK8sLog(filepath.Join(dir, "a")+"/../ctr.log", FileOptions{Rotate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		// OpenK8sLog refuses a symlink; one swapped in afterwards is
		// caught by step 1.
		f, p := openTestLog(t, FileOptions{Rotate: true})
		target := p + ".real"
		if err := os.Rename(p, target); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
	})
	t.Run("missing path outside allowlist", func(t *testing.T) {
		f, p := openTestLog(t, FileOptions{Rotate: true, AllowlistDirs: []string{t.TempDir()}})
		os.Remove(p)
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
	})
	t.Run("existing file outside allowlist", func(t *testing.T) {
		f, p := openTestLog(t, FileOptions{Rotate: true, AllowlistDirs: []string{t.TempDir()}})
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
		if _, err := os.Stat(p + ".1"); !os.IsNotExist(err) {
			t.Fatalf("rotated anyway: %v", err)
		}
	})
	t.Run("symlinked directory escaping the allowlist", func(t *testing.T) {
		allowed, outside := t.TempDir(), t.TempDir()
		os.Symlink(outside, filepath.Join(allowed, "escape"))
		f, err := OpenK8sLog(filepath.Join(allowed, "escape", "ctr.log"), FileOptions{Rotate: true, AllowlistDirs: []string{allowed}})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
		if _, err := os.Stat(filepath.Join(outside, "ctr.log.1")); !os.IsNotExist(err) {
			t.Fatalf("rotated outside the allowlist: %v", err)
		}
	})
	t.Run("inside allowlist, also through a symlinked allowed dir", func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "real")
		os.Mkdir(real, 0o755)
		os.Symlink(real, filepath.Join(base, "alias"))
		f, err := OpenK8sLog(filepath.Join(real, "ctr.log"), FileOptions{Rotate: true, AllowlistDirs: []string{filepath.Join(base, "alias")}})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Reopen(); err != nil {
			t.Fatalf("Reopen = %v, want a rotation", err)
		}
		if _, err := os.Stat(filepath.Join(real, "ctr.log.1")); err != nil {
			t.Fatalf("no backup: %v", err)
		}
	})
	t.Run("missing path in world-writable dir", func(t *testing.T) {
		f, p := openTestLog(t, FileOptions{Rotate: true})
		os.Chmod(filepath.Dir(p), 0o777)
		os.Remove(p)
		if err := f.Reopen(); !errors.Is(err, errSkipped) {
			t.Fatalf("Reopen = %v, want skipped", err)
		}
	})
}

func TestInAllowlist(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	os.Symlink(sub, filepath.Join(dir, "link"))
	sibling := dir + "x"
	os.Mkdir(sibling, 0o755)
	defer os.Remove(sibling)
	for _, tc := range []struct {
		dir  string
		want bool
	}{{dir, true}, {sub, true}, {filepath.Join(dir, "link"), true}, {sibling, false}, {"/", false}} {
		if got := inAllowlist(tc.dir, []string{dir + "/"}); got != tc.want {
			t.Errorf("inAllowlist(%s) = %v, want %v", tc.dir, got, tc.want)
		}
	}
}

// TestLogFileMode: 0640 under the main's umask 022, for the first file,
// a truncation's replacement and a rotation's new file.
func TestLogFileMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, rotate := range []bool{false, true} {
		f, p := openTestLog(t, FileOptions{Rotate: rotate})
		check := func(when string) {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o640 {
				t.Errorf("rotate=%v %s: mode %o, want 640", rotate, when, st.Mode().Perm())
			}
		}
		check("open")
		if err := f.Reopen(); err != nil {
			t.Fatal(err)
		}
		check("reopen")
	}
}

// TestNoFdLeak: opening, reopening (both modes, also failing ones) and
// closing leave the process with the fds it had.
func TestNoFdLeak(t *testing.T) {
	dir := t.TempDir()
	before := testutil.OpenFds(t)
	for _, rotate := range []bool{false, true} {
		p := filepath.Join(dir, fmt.Sprintf("ctr-%v.log", rotate))
		f, err := OpenK8sLog(p, FileOptions{Rotate: rotate, SizeMax: 60})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			mustWrite(t, f, stream.Stdout, "some line\n", ts1)
			if err := f.Reopen(); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(p+".new", nil, 0o640) // rotation now fails at step 4
		f.Reopen()
		os.Remove(p + ".new")
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: filepath.Join(dir, "w.log")}, {Kind: Journald}},
		ContainerID: strings.Repeat("c", 64), JournalSocket: filepath.Join(dir, "nosock")})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(stream.Stdout, []byte("x\n"))
	w.Reopen()
	w.Close(true)
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("fds before %d, after %d", before, after)
	}
}

// TestReopenTruncatePlantedTmp: whoever can write the log's directory may
// plant a symlink, a FIFO or a directory at "<log>.tmp". A reopen (ctl 2, or
// the --log-size-max rollover the container itself triggers) must not
// truncate or write the symlink's target, nor block on the FIFO; the log
// goes on, in a fresh file where the name could be cleared, in the old one
// otherwise.
func TestReopenTruncatePlantedTmp(t *testing.T) {
	for _, kind := range []string{"symlink", "dangling symlink", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			f, p := openTestLog(t, FileOptions{})
			victim := filepath.Join(t.TempDir(), "victim")
			if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			plant(t, kind, p+".tmp", victim)
			mustWrite(t, f, stream.Stdout, "before\n", ts1)
			reopenErr := f.Reopen()
			mustWrite(t, f, stream.Stdout, "after\n", ts1)
			if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
				t.Fatalf("the symlink's target now holds %q (%v)", b, err)
			}
			if exists(victim + ".new") {
				t.Fatal("the dangling symlink's target was created")
			}
			got := contents(t, p)
			if kind == "directory" {
				// Not ours to remove: the reopen fails, logging goes on.
				if reopenErr == nil || len(got) != 2 || got[1] != "after" {
					t.Fatalf("reopen error %v, log %q", reopenErr, got)
				}
				return
			}
			if reopenErr != nil || len(got) != 1 || got[0] != "after" {
				t.Fatalf("reopen error %v, log %q; want a fresh log", reopenErr, got)
			}
			if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("the log is not a regular file: %v %v", st, err)
			}
		})
	}
}

// TestReopenAtFdLimit: with every fd of the process in use, a reopen still
// recreates a log that was renamed away (kubelet's rotation): the monitor
// keeps one fd in reserve for it, and takes it again afterwards.
func TestReopenAtFdLimit(t *testing.T) {
	f, p := openTestLog(t, FileOptions{})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = uint64(testutil.OpenFds(t) + 20)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	var fill []int
	release := func() {
		for _, fd := range fill {
			syscall.Close(fd)
		}
		fill = nil
	}
	defer release()
	for round := 1; round <= 3; round++ {
		for { // every fd in use
			fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				if err != syscall.EMFILE {
					t.Fatal(err)
				}
				break
			}
			fill = append(fill, fd)
		}
		if err := os.Rename(p, fmt.Sprintf("%s.%d", p, round)); err != nil {
			t.Fatal(err)
		}
		reopenErr := f.Reopen()
		mustWrite(t, f, stream.Stdout, fmt.Sprintf("round %d\n", round), ts1)
		release()
		if reopenErr != nil {
			t.Fatalf("reopen %d at the fd limit: %v", round, reopenErr)
		}
		if got := contents(t, p); len(got) != 1 || got[0] != fmt.Sprintf("round %d", round) {
			t.Fatalf("round %d: the recreated log holds %q", round, got)
		}
	}
}

// plant puts kind ("symlink" to victim, "dangling symlink" to victim+".new",
// "fifo", "directory") at name.
func plant(t *testing.T, kind, name, victim string) {
	t.Helper()
	var err error
	switch kind {
	case "symlink":
		err = os.Symlink(victim, name)
	case "dangling symlink":
		err = os.Symlink(victim+".new", name)
	case "fifo":
		err = syscall.Mkfifo(name, 0o644)
	case "directory":
		err = os.Mkdir(name, 0o755)
	default:
		t.Fatalf("plant: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// newVictim is a file outside the log's directory that nothing may write.
func newVictim(t *testing.T) string {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return victim
}

// checkVictim fails if victim no longer holds what newVictim wrote, or if
// the dangling symlink's target was created.
func checkVictim(t *testing.T, victim string) {
	t.Helper()
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Fatalf("the symlink's target now holds %q (%v)", b, err)
	}
	if exists(victim + ".new") {
		t.Fatal("the dangling symlink's target was created")
	}
}

// TestRotatePlantedNew: a symlink or FIFO at "<log>.new" (stale, or put
// there by whoever can write the directory) is removed, not written through,
// and the rotation happens; a directory makes it fail and the old file stays.
func TestRotatePlantedNew(t *testing.T) {
	for _, kind := range []string{"symlink", "dangling symlink", "fifo", "directory"} {
		t.Run(kind, func(t *testing.T) {
			f, p := openTestLog(t, FileOptions{Rotate: true})
			victim := newVictim(t)
			plant(t, kind, p+".new", victim)
			mustWrite(t, f, stream.Stdout, "before\n", ts1)
			reopenErr := f.Reopen()
			mustWrite(t, f, stream.Stdout, "after\n", ts1)
			checkVictim(t, victim)
			if kind == "directory" {
				if got := contents(t, p); reopenErr == nil || len(got) != 2 {
					t.Fatalf("reopen error %v, log %q; want a failed rotation, the old file in use", reopenErr, got)
				}
				return
			}
			if reopenErr != nil {
				t.Fatalf("rotation with a planted .new: %v", reopenErr)
			}
			if got := strings.Join(contents(t, p), ","); got != "after" {
				t.Fatalf("log holds %q, want a fresh file", got)
			}
			if got := strings.Join(contents(t, p+".1"), ","); got != "before" {
				t.Fatalf(".1 holds %q", got)
			}
		})
	}
}

// A ctl reopen (truncate) allocates nothing: kubelet rotates every few
// seconds for a noisy container, and the garbage would make the idle
// monitor collect, which costs it memory for good (docs/memory.md).
func TestTruncateAllocatesNothing(t *testing.T) {
	w, err := New(Options{Specs: []Spec{{Kind: K8sFile, Path: filepath.Join(t.TempDir(), "ctr.log")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(false)
	if a := testing.AllocsPerRun(100, func() {
		if err := w.Reopen(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%v allocations per reopen", a)
	}
}
