package oom

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// recLogger records diagnostics for assertions.
type recLogger struct {
	mu    sync.Mutex
	warn  []string
	debug []string
}

func (l *recLogger) Warnf(f string, a ...any) {
	l.mu.Lock()
	l.warn = append(l.warn, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

func (l *recLogger) Debugf(f string, a ...any) {
	l.mu.Lock()
	l.debug = append(l.debug, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

func (l *recLogger) count(level *[]string, sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range *level {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func events(oom, kill string) string {
	return "low 0\nhigh 0\nmax 3\noom " + oom + "\noom_kill " + kill + "\noom_group_kill 0\n"
}

func TestParseEvents(t *testing.T) {
	c, bad := parseEvents([]byte(events("2", "5")))
	if c != (counters{oom: 2, kill: 5, hasOOM: true, hasKill: true}) || bad != nil {
		t.Fatalf("got %+v %q", c, bad)
	}
	c, bad = parseEvents([]byte("oom x1\noom_kill 7\nmax 0x10\noom_killer 9\n"))
	if c != (counters{kill: 7, hasKill: true}) || len(bad) != 1 || bad[0] != "oom x1" {
		t.Fatalf("unparsable oom: got %+v %q", c, bad)
	}
	c, _ = parseEvents(nil)
	if c.hasOOM || c.hasKill {
		t.Fatalf("empty file gave %+v", c)
	}
}

// Each counter is compared with its own last value ([HEAD]): with one
// shared value (2.1.6) the step (oom 1, kill 0) -> (oom 1, kill 1) looked
// like nothing new.
func TestEventsFileSeparateLastValues(t *testing.T) {
	dir := t.TempDir()
	ef := &eventsFile{path: filepath.Join(dir, "memory.events")}
	lg := &recLogger{}
	for i, step := range []struct {
		oom, kill string
		want      bool
	}{
		{"0", "0", false},
		{"1", "0", true},  // limit hit
		{"1", "1", true},  // then the kill
		{"1", "1", false}, // a rewrite with the same values
		{"2", "1", true},
		{"2", "2", true},
		{"0", "0", false}, // back to zero (never in a kernel) is not an OOM
	} {
		if err := os.WriteFile(ef.path, []byte(events(step.oom, step.kill)), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ef.check(lg)
		if err != nil || got != step.want {
			t.Fatalf("step %d (oom %s, oom_kill %s): %v, %v; want %v", i, step.oom, step.kill, got, err, step.want)
		}
	}
	os.Remove(ef.path)
	if _, err := ef.check(lg); err != errGone {
		t.Fatalf("vanished file: %v, want errGone", err)
	}
}

// fakeCgroup makes root/<rel>/memory.events with zero counters.
func fakeCgroup(t *testing.T, root, rel string) string {
	t.Helper()
	dir := filepath.Join(root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeEvents(t, dir, "0", "0")
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeEvents(t *testing.T, dir, oom, kill string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte(events(oom, kill)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// The watcher sees a change while the container runs (inotify) and creates
// the oom files in every dir at once.
func TestV2WatchLive(t *testing.T) {
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	out1, out2 := t.TempDir(), t.TempDir()
	lg := &recLogger{}
	fds := testutil.OpenFds(t)
	w := Watch(Cgroup{Dir: dir, Root: root}, lg, out1, "", out2)
	if w == nil {
		t.Fatalf("no watcher; warnings %q", lg.warn)
	}
	writeEvents(t, dir, "0", "1") // a child was killed
	testutil.Eventually(t, 20*time.Second, "oom files", func() bool {
		return exists(filepath.Join(out1, "oom")) && exists(filepath.Join(out2, "oom"))
	})
	if !w.Final() || !w.Final() {
		t.Fatal("Final after a live OOM = false")
	}
	if len(lg.warn) != 0 {
		t.Fatalf("warnings: %q", lg.warn)
	}
	if got := testutil.OpenFds(t); got != fds {
		t.Fatalf("fds open before %d, after Final %d", fds, got)
	}
}

// Counts already there when watching starts are not this container's.
func TestV2BaselineAtStart(t *testing.T) {
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	writeEvents(t, dir, "4", "4")
	out := t.TempDir()
	w := Watch(Cgroup{Dir: dir, Root: root}, &recLogger{}, out)
	if w.Final() {
		t.Fatal("old counts reported as an OOM")
	}
	if exists(filepath.Join(out, "oom")) {
		t.Fatal("oom file created without an OOM")
	}
}

// The exit races with the watcher: Final looks at the file itself.
func TestV2FinalCheck(t *testing.T) {
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	out := t.TempDir()
	w := Watch(Cgroup{Dir: dir, Root: root}, &recLogger{}, out)
	writeEvents(t, dir, "1", "0")
	if !w.Final() {
		t.Fatal("Final missed the OOM")
	}
	if !exists(filepath.Join(out, "oom")) {
		t.Fatal("Final returned true without the oom file")
	}
}

// A cgroup that disappears is not an OOM kill; the debug text is conmon's,
// logged once.
func TestV2VanishedCgroup(t *testing.T) {
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	out := t.TempDir()
	lg := &recLogger{}
	w := Watch(Cgroup{Dir: dir, Root: root}, lg, out)
	// Rewrite first so that inotify fires, then remove: the watcher may
	// look before or after the removal; both paths must agree.
	writeEvents(t, dir, "0", "0")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if w.Final() {
		t.Fatal("removal reported as an OOM")
	}
	if n := lg.count(&lg.debug, RemovedMessage); n != 1 {
		t.Fatalf("%q logged %d times at debug, want once (debug %q)", RemovedMessage, n, lg.debug)
	}
	if exists(filepath.Join(out, "oom")) {
		t.Fatal("oom file created for a removed cgroup")
	}
}

func TestV2NoMemoryEvents(t *testing.T) {
	dir := t.TempDir() // a cgroup without the memory controller
	lg := &recLogger{}
	w := Watch(Cgroup{Dir: dir, Root: filepath.Dir(dir)}, lg, t.TempDir())
	if w != nil {
		t.Fatal("watcher without memory.events")
	}
	if w.Final() {
		t.Fatal("nil watcher reported an OOM")
	}
	if len(lg.warn) != 0 {
		t.Fatalf("missing memory.events warned: %q", lg.warn)
	}
}

// Unparsable values are skipped with one warning; the other counter works.
func TestV2UnparsableValueWarnsOnce(t *testing.T) {
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	lg := &recLogger{}
	out := t.TempDir()
	w := Watch(Cgroup{Dir: dir, Root: root}, lg, out)
	writeEvents(t, dir, "bogus", "0")
	writeEvents(t, dir, "bogus", "0")
	writeEvents(t, dir, "bogus", "2")
	if !w.Final() {
		t.Fatal("oom_kill change missed next to a bad oom value")
	}
	if n := lg.count(&lg.warn, "oom bogus"); n != 1 {
		t.Fatalf("bad value warned %d times, want 1: %q", n, lg.warn)
	}
}

// A parent holding only the container (a runtime's nested "container"
// cgroup) is watched too; a parent shared with siblings is not.
func TestV2Parent(t *testing.T) {
	for _, shared := range []bool{false, true} {
		root := t.TempDir()
		parent := fakeCgroup(t, root, "libpod-abc.scope")
		dir := fakeCgroup(t, root, "libpod-abc.scope/container")
		if shared {
			fakeCgroup(t, root, "libpod-abc.scope/sibling")
		}
		out := t.TempDir()
		w := Watch(Cgroup{Dir: dir, Root: root}, &recLogger{}, out)
		writeEvents(t, parent, "1", "0")
		if got := w.Final(); got == shared {
			t.Errorf("shared parent %v: OOM in the parent gave %v", shared, got)
		}
	}
	// The root of the hierarchy is never a container's own parent.
	root := t.TempDir()
	writeEvents(t, root, "0", "0")
	dir := fakeCgroup(t, root, "ctr")
	if ownParent(Cgroup{Dir: dir, Root: root}) {
		t.Fatal("the hierarchy root taken as the container's parent")
	}
}
