package main

import (
	"slices"
	"testing"

	"github.com/shim-project/shim/hack/probe"
)

func TestViolations(t *testing.T) {
	start := snapshot{fds: 20, goroutines: 9, rssKiB: 4000, privDirKiB: 1000, monitors: 1, zombies: 2}
	ok := start
	ok.rssKiB, ok.privDirKiB, ok.zombies = 5024, 900, 1
	if v := violations(start, ok); len(v) != 0 {
		t.Fatalf("within bounds, got %v", v)
	}
	bad := snapshot{fds: 19, goroutines: 10, rssKiB: 5025, privDirKiB: 2025, monitors: 2, zombies: 3}
	want := []string{"fds", "goroutines", "rss", "private_dirty", "monitors", "zombies"}
	if v := violations(start, bad); !slices.Equal(v, want) {
		t.Fatalf("violations = %v, want %v", v, want)
	}
}

func TestTreeZombies(t *testing.T) {
	procs := map[int]probe.Stat{
		1:  {State: 'S'},
		10: {State: 'S', PPid: 1},  // the soak
		11: {State: 'S', PPid: 10}, // a monitor
		12: {State: 'Z', PPid: 11}, // its zombie: ours
		13: {State: 'Z', PPid: 10}, // ours
		20: {State: 'S', PPid: 1},
		21: {State: 'Z', PPid: 20}, // someone else's
		22: {State: 'Z', PPid: 1},  // someone else's
		30: {State: 'Z', PPid: 31}, // a cycle from a racy scan must not hang
		31: {State: 'S', PPid: 30},
	}
	if n := treeZombies(procs, 10); n != 2 {
		t.Fatalf("treeZombies = %d, want 2", n)
	}
}
