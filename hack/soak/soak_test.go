package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestReadStatSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'R' || st.ppid != os.Getppid() {
		t.Fatalf("own stat: state %c ppid %d, want R and %d", st.state, st.ppid, os.Getppid())
	}
}

func TestParseGoroutines(t *testing.T) {
	in := "# HELP shim_monitor_goroutines goroutines\n# TYPE shim_monitor_goroutines gauge\n" +
		`shim_monitor_goroutines{container_id="x",container_name="y"} 12` + "\n"
	if n, err := parseGoroutines(strings.NewReader(in)); err != nil || n != 12 {
		t.Fatalf("parseGoroutines = %d, %v; want 12", n, err)
	}
	if _, err := parseGoroutines(strings.NewReader("shim_log_bytes_total 3\n")); err == nil {
		t.Fatal("no goroutine sample: want an error")
	}
}

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
	procs := map[int]procStat{
		1:  {state: 'S'},
		10: {state: 'S', ppid: 1},  // the soak
		11: {state: 'S', ppid: 10}, // a monitor
		12: {state: 'Z', ppid: 11}, // its zombie: ours
		13: {state: 'Z', ppid: 10}, // ours
		20: {state: 'S', ppid: 1},
		21: {state: 'Z', ppid: 20}, // someone else's
		22: {state: 'Z', ppid: 1},  // someone else's
		30: {state: 'Z', ppid: 31}, // a cycle from a racy scan must not hang
		31: {state: 'S', ppid: 30},
	}
	if n := treeZombies(procs, 10); n != 2 {
		t.Fatalf("treeZombies = %d, want 2", n)
	}
}
