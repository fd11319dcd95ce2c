package integration

// A guard on the memory of idle monitors: the monitor runs once per
// container, so a creeping figure is multiplied by every container on a node
// (issue 2: ≤ 1.0 MiB PSS is the target, this test fails above 1.5 MiB).
// hack/bench-mem.sh measures the same against conmon, for reports.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	memMonitors = 10
	memMaxPss   = 1536 // KiB, average per idle monitor
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
