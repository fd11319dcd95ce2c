package oom

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// v1Cgroup makes a memory cgroup (v1) below this test's own, or skips where
// the host has no v1 memory hierarchy (a v2-only host: the v2 tests cover
// it) or the test cannot create cgroups (not root).
func v1Cgroup(t *testing.T) string {
	t.Helper()
	self, err := Locate(os.Getpid())
	if err != nil || !self.V1 {
		t.Skipf("no cgroup v1 memory hierarchy on this host (%+v, %v)", self, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("creating a memory cgroup needs root")
	}
	dir := filepath.Join(self.Dir, fmt.Sprintf("shim-oomtest-%d-%s", os.Getpid(), t.Name()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// A process that runs out of memory in a v1 cgroup is seen through the
// eventfd, and the oom files appear.
func TestV1OOMKill(t *testing.T) {
	dir := v1Cgroup(t)
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		// memsw only exists with swap accounting; without it no swap is
		// used to dodge the limit anyway.
		if err := os.WriteFile(filepath.Join(dir, f), []byte("16777216"), 0); err != nil && f == "memory.limit_in_bytes" {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	lg := &recLogger{}
	fds := testutil.OpenFds(t)
	w := Watch(Cgroup{V1: true, Dir: dir}, lg, out)
	if w == nil {
		t.Fatalf("no watcher: %q", lg.warn)
	}
	hog := exec.Command("/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exec tail /dev/zero`, dir)
	err := hog.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("memory hog ended with %v, want killed", err)
	}
	if !w.Final() {
		t.Fatalf("OOM kill not seen; warnings %q debug %q", lg.warn, lg.debug)
	}
	if !exists(filepath.Join(out, "oom")) {
		t.Fatal("no oom file")
	}
	if got := testutil.OpenFds(t); got != fds {
		t.Fatalf("fds open before %d, after Final %d", fds, got)
	}
}

// Removing the cgroup signals the eventfd once; that is not an OOM.
func TestV1RemovalIsNotOOM(t *testing.T) {
	dir := v1Cgroup(t)
	out := t.TempDir()
	lg := &recLogger{}
	w := Watch(Cgroup{V1: true, Dir: dir}, lg, out)
	if w == nil {
		t.Fatalf("no watcher: %q", lg.warn)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "the removal message", func() bool { return lg.count(&lg.debug, RemovedMessage) == 1 })
	if w.Final() {
		t.Fatal("removal reported as an OOM")
	}
	if exists(filepath.Join(out, "oom")) {
		t.Fatal("oom file created for a removed cgroup")
	}
}

// A process that merely exits is no OOM.
func TestV1PlainExit(t *testing.T) {
	dir := v1Cgroup(t)
	out := t.TempDir()
	w := Watch(Cgroup{V1: true, Dir: dir}, &recLogger{}, out)
	if err := exec.Command("/bin/sh", "-c", `echo $$ > "$0/cgroup.procs" && exit 3`, dir).Run(); err == nil {
		t.Fatal("want exit 3")
	}
	if w.Final() || exists(filepath.Join(out, "oom")) {
		t.Fatal("plain exit reported as an OOM")
	}
}

// Setup failures warn and give no watcher; they never fail the caller.
func TestSetupFailuresWarn(t *testing.T) {
	lg := &recLogger{}
	missing := filepath.Join(t.TempDir(), "gone")
	if w := Watch(Cgroup{V1: true, Dir: missing}, lg, t.TempDir()); w != nil || w.Final() {
		t.Fatal("watcher for a missing v1 cgroup")
	}
	if n := lg.count(&lg.warn, "Failed to open "+filepath.Join(missing, "cgroup.event_control")); n != 1 {
		t.Fatalf("warnings %q", lg.warn)
	}
	// A pid that does not exist: one warning naming it.
	lg = &recLogger{}
	if w := Start(-1, lg, t.TempDir()); w != nil {
		t.Fatal("watcher for pid -1")
	}
	if n := lg.count(&lg.warn, "pid "+strconv.Itoa(-1)); n != 1 {
		t.Fatalf("warnings %q", lg.warn)
	}
}
