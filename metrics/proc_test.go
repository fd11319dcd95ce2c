package metrics

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shim-project/shim/oom"
)

func TestOOMFile(t *testing.T) {
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
	if got := oomFile(oom.Cgroup{V1: true, Dir: filepath.Dir(v1)}); got != v1 {
		t.Errorf("v1: oomFile = %q", got)
	}
	if got := oomFile(oom.Cgroup{Dir: filepath.Dir(v2)}); got != v2 {
		t.Errorf("v2: oomFile = %q", got)
	}
	for file, want := range map[string]uint64{v1: 2, v2: 3} {
		b, _ := os.ReadFile(file)
		if n, ok := oomKills(b); !ok || n != want {
			t.Errorf("oomKills(%s) = %d, %v; want %d", file, n, ok, want)
		}
	}
	if _, ok := oomKills([]byte("oom 1\n")); ok {
		t.Error("oomKills found a count in a file without oom_kill")
	}

	// The counter keeps the last value once the cgroup is gone.
	var o oomCounter
	o.file.Store(&v2)
	if n, ok := o.value(); !ok || n != 3 {
		t.Fatalf("value = %d, %v", n, ok)
	}
	os.Remove(v2)
	if n, ok := o.value(); !ok || n != 3 {
		t.Fatalf("after removal value = %d, %v; want the last count", n, ok)
	}
}

// TestOOMOfThisProcess: this process's memory cgroup, wherever the oom
// package finds it, has an oom_kill count to read.
func TestOOMOfThisProcess(t *testing.T) {
	cg, err := oom.Locate(os.Getpid())
	if err != nil {
		t.Fatalf("no memory cgroup for this process: %v", err)
	}
	var o oomCounter
	o.watch(cg)
	if _, ok := o.value(); !ok {
		t.Fatalf("%s has no oom_kill line", *o.file.Load())
	}
}

func TestResidentBytes(t *testing.T) {
	n, ok := residentBytes()
	if !ok || n < 1<<20 {
		t.Fatalf("residentBytes = %d, %v", n, ok)
	}
}
