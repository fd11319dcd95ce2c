package oom

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKillsFile: the oom_kill count is read from memory.oom_control on v1
// and memory.events on v2, in the formats the kernel writes them.
func TestKillsFile(t *testing.T) {
	root := t.TempDir()
	mk := func(rel, content string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1 := mk("memory/libpod_parent/libpod-1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	v2 := mk("system.slice/ctr/memory.events", "low 0\nhigh 0\nmax 5\noom 3\noom_kill 3\n")
	if got := killsFile(Cgroup{V1: true, Dir: filepath.Dir(v1)}); got != v1 {
		t.Errorf("v1: killsFile = %q", got)
	}
	if got := killsFile(Cgroup{Dir: filepath.Dir(v2)}); got != v2 {
		t.Errorf("v2: killsFile = %q", got)
	}
	for file, want := range map[string]uint64{v1: 2, v2: 3} {
		k := killCount{path: file}
		if n, ok := k.read(); !ok || n != want {
			t.Errorf("read(%s) = %d, %v; want %d", file, n, ok, want)
		}
	}
	k := killCount{path: mk("nokill/memory.events", "oom 1\n")}
	if _, ok := k.read(); ok {
		t.Error("found a count in a file without oom_kill")
	}
	// The last value is kept once the cgroup is gone.
	k = killCount{path: v2}
	if n, ok := k.read(); !ok || n != 3 {
		t.Fatalf("read = %d, %v", n, ok)
	}
	os.Remove(v2)
	if n, ok := k.read(); !ok || n != 3 {
		t.Fatalf("after removal read = %d, %v; want the last count", n, ok)
	}
}

// TestKillsOfThisProcess: this process's memory cgroup, wherever Locate
// finds it, has an oom_kill count to read.
func TestKillsOfThisProcess(t *testing.T) {
	cg, err := Locate(os.Getpid())
	if err != nil {
		t.Fatalf("no memory cgroup for this process: %v", err)
	}
	k := killCount{path: killsFile(cg)}
	if _, ok := k.read(); !ok {
		t.Fatalf("%s has no oom_kill line", k.path)
	}
}

// TestWatcherOOMKills: a watcher reports its cgroup's total (kills before
// Start included) as it is at each call, before and after Final, and the
// last count once the cgroup is removed; a nil watcher has none.
func TestWatcherOOMKills(t *testing.T) {
	if n, ok := (*Watcher)(nil).OOMKills(); ok || n != 0 {
		t.Fatalf("nil watcher: %d, %v", n, ok)
	}
	root := t.TempDir()
	dir := fakeCgroup(t, root, "ctr")
	writeEvents(t, dir, "1", "1")
	w := Watch(Cgroup{Dir: dir, Root: root}, &recLogger{}, t.TempDir())
	if w == nil {
		t.Fatal("no watcher")
	}
	if n, ok := w.OOMKills(); !ok || n != 1 {
		t.Fatalf("at start: %d, %v; want 1", n, ok)
	}
	writeEvents(t, dir, "2", "2")
	if n, ok := w.OOMKills(); !ok || n != 2 {
		t.Fatalf("after a kill: %d, %v; want 2", n, ok)
	}
	w.Final()
	writeEvents(t, dir, "3", "3")
	if n, ok := w.OOMKills(); !ok || n != 3 {
		t.Fatalf("after Final: %d, %v; want 3", n, ok)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if n, ok := w.OOMKills(); !ok || n != 3 {
		t.Fatalf("after removal: %d, %v; want the last count, 3", n, ok)
	}
}
