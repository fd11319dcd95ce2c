package integration

// Guards on the memory of monitors: the monitor runs once per container, so
// a creeping figure is multiplied by every container on a node. Idle: the
// average Pss of fresh idle monitors (issue 12: ≤ 800 KiB in
// hack/bench-mem.sh's 30 containers; this guard fails above 1.0 MiB). After
// work: a monitor put through a burst of output, attach sessions and ctl
// messages must come back near its fresh idle figure once the work ends.
// hack/bench-mem.sh measures both against conmon, for reports.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

const (
	// Pss counts 1/N of the binary's page cache (about 2.7 MiB mapped) in
	// every one of N monitors: with 10 that alone was 270 KiB each, with
	// 15 it is 180 (hack/bench-mem.sh's 30: 90).
	memMonitors = 15
	memMaxPss   = 1024 // KiB, average per idle monitor

	// The after-work load (issue 12), and how far the monitor's
	// Private_Dirty may then stay above its fresh idle figure: issue 12's
	// 128 KiB with room for noise (measured +56 here, +108 on average in
	// hack/bench-mem.sh), but below what a collection during the work would
	// leave for good (its own structures, about 300 KiB, docs/memory.md).
	workLogMiB       = 256
	workSessions     = 1000
	workCtl          = 1000
	workSettle       = 10 * time.Second
	workMaxGrowthKiB = 256
)

// smapsRollup returns the named fields (KiB) of /proc/PID/smaps_rollup.
func smapsRollup(pid int) (map[string]int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "Pss:                 812 kB"
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && fs[2] == "kB" {
			if n, err := strconv.Atoi(fs[1]); err == nil {
				out[strings.TrimSuffix(fs[0], ":")] = n
			}
		}
	}
	return out, sc.Err()
}

func TestPodmanIdleMemory(t *testing.T) {
	pod := setupPodman(t)
	var names []string
	for range memMonitors {
		names = append(names, pod.runD(t, nil, "sleep", "1000"))
	}
	// Let the monitors settle (first reads, lazily touched pages), as
	// hack/bench-mem.sh does; what is measured is the idle state.
	time.Sleep(time.Second)
	var pss, dirty int
	for _, name := range names {
		in := pod.inspect(t, name)
		checkIsMonitor(t, in.State.ConmonPid)
		m, err := smapsRollup(in.State.ConmonPid)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := m["Pss"]; !ok {
			t.Fatalf("%s: no Pss in smaps_rollup of %d: %v", name, in.State.ConmonPid, m)
		}
		pss += m["Pss"]
		dirty += m["Private_Dirty"]
	}
	avgPss, avgDirty := pss/len(names), dirty/len(names)
	t.Logf("%d idle monitors (%s): average Pss %d KiB, Private_Dirty %d KiB", len(names), shimBin, avgPss, avgDirty)
	if avgPss > memMaxPss {
		t.Fatalf("average Pss of an idle monitor is %d KiB, above the %d KiB guard", avgPss, memMaxPss)
	}
}

// TestPodmanAfterWorkMemory: a monitor that went through 256 MiB of output
// (written to the container's stdout from podman exec), 1,000 attach
// sessions and 1,000 ctl messages is, 10 s after the work ended, within
// workMaxGrowthKiB of the Private_Dirty it had fresh.
func TestPodmanAfterWorkMemory(t *testing.T) {
	pod := setupPodman(t)
	name := pod.runD(t, nil, "sleep", "1000")
	time.Sleep(time.Second)
	in := pod.inspect(t, name)
	checkIsMonitor(t, in.State.ConmonPid)
	fresh := privateDirty(t, in.State.ConmonPid)
	line := strings.Repeat("0", 99)
	pod.pmOK(t, "exec", name, "sh", "-c", fmt.Sprintf("yes %s | head -c %d >/proc/1/fd/1", line, workLogMiB<<20))
	if err := testutil.AttachSessions(in.StaticDir, workSessions); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CtlMessages(filepath.Join(in.StaticDir, "ctl"), workCtl); err != nil {
		t.Fatal(err)
	}
	time.Sleep(workSettle)
	after := privateDirty(t, in.State.ConmonPid)
	t.Logf("%s: Private_Dirty %d KiB fresh, %d KiB after the work (%+d)", shimBin, fresh, after, after-fresh)
	if after-fresh > workMaxGrowthKiB {
		t.Fatalf("after the work the monitor holds %d KiB more Private_Dirty than fresh (%d -> %d), above the %d KiB guard",
			after-fresh, fresh, after, workMaxGrowthKiB)
	}
}

func privateDirty(t *testing.T, pid int) int {
	t.Helper()
	m, err := smapsRollup(pid)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := m["Private_Dirty"]
	if !ok {
		t.Fatalf("no Private_Dirty in smaps_rollup of %d: %v", pid, m)
	}
	return d
}
