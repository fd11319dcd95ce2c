package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// goList returns the packages pkg links (go list -deps), or skips where no
// go tool is at hand (the test binary run on its own).
func goList(t *testing.T, pkg string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := exec.LookPath(goTool); err != nil {
			t.Skip("no go tool to list dependencies with")
		}
	}
	out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDependencies: the exporter takes numbers from package metrics, not the
// monitor's domain packages, so it links none of them (nor the terminal
// library they bring); the monitor, one per container, links no net/http,
// which is why the exporter is a binary of its own.
func TestDependencies(t *testing.T) {
	const mod = "github.com/shim-project/shim/"
	deps := goList(t, ".")
	if !slices.Contains(deps, mod+"metrics") {
		t.Fatalf("go list -deps found no %smetrics among %q: the check below would pass blindly", mod, deps)
	}
	for _, bad := range []string{mod + "attach", mod + "logs", mod + "oom", mod + "exitcode", "github.com/containerd/console"} {
		if slices.Contains(deps, bad) {
			t.Errorf("shim-exporter links %s", bad)
		}
	}
	monitor := goList(t, "../shim")
	if !slices.Contains(monitor, mod+"metrics") {
		t.Fatalf("go list -deps found no %smetrics among the monitor's %q", mod, monitor)
	}
	if slices.Contains(monitor, "net/http") {
		t.Error("shim links net/http")
	}
}
