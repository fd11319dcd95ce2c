package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/shim-project/shim/hack/probe"
)

// countFDs is the number of open fds of pid.
func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("list fds of %d: %w", pid, err)
	}
	return len(ents), nil
}

// memKiB returns Rss and Private_Dirty (KiB) from /proc/PID/smaps_rollup.
func memKiB(pid int) (rss, privDirty int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("open smaps_rollup of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss, _ = strconv.Atoi(fields[1])
		case "Private_Dirty:":
			privDirty, _ = strconv.Atoi(fields[1])
		}
	}
	return rss, privDirty, sc.Err()
}

// hostCounts scans /proc once: the processes running the monitor binary exe
// for the container id (the long-lived monitor and any exec monitor still
// alive; other containers' monitors are not ours to count), the zombies in
// root's process tree (root is this process, the subreaper of everything
// the soak starts: podman, the monitors and, below them, the container's
// and runc's processes), and the zombies on the whole host, which other
// work on the machine changes as well.
func hostCounts(exe, id string, root int) (monitors, zombies, hostZombies int) {
	ents, _ := os.ReadDir("/proc")
	procs := map[int]probe.Stat{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := probe.ReadStat(pid)
		if err != nil {
			continue
		}
		procs[pid] = st
		if st.State == 'Z' {
			hostZombies++
			continue
		}
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || target != exe {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(id)) {
			monitors++
		}
	}
	return monitors, treeZombies(procs, root), hostZombies
}

// treeZombies counts the zombies among root's descendants.
func treeZombies(procs map[int]probe.Stat, root int) int {
	n := 0
	for _, st := range procs {
		if st.State != 'Z' {
			continue
		}
		// Walk up; a pid is at most len(procs) steps from the top.
		for p, steps := st.PPid, 0; p > 0 && steps <= len(procs); steps++ {
			if p == root {
				n++
				break
			}
			p = procs[p].PPid
		}
	}
	return n
}
