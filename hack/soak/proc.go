package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clkTck is sysconf(_SC_CLK_TCK) on Linux: the unit of /proc/PID/stat times.
const clkTck = 100

// procStat is what the soak reads from /proc/PID/stat.
type procStat struct {
	comm     string
	state    byte
	ppid     int
	own      time.Duration // utime+stime: the process itself
	children time.Duration // cutime+cstime: the children it has reaped
}

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// comm may hold spaces and parentheses: it ends at the last ')'.
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open || end+2 > len(raw) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: cannot parse %q", pid, raw)
	}
	f := strings.Fields(string(raw[end+2:]))
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	n := make([]int64, 5)
	for i, idx := range []int{1, 11, 12, 13, 14} {
		if n[i], err = strconv.ParseInt(f[idx], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat field %d: %w", pid, idx+3, err)
		}
	}
	return procStat{
		comm:     string(raw[open+1 : end]),
		state:    f[0][0],
		ppid:     int(n[0]),
		own:      time.Duration(n[1]+n[2]) * time.Second / clkTck,
		children: time.Duration(n[3]+n[4]) * time.Second / clkTck,
	}, nil
}

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
	procs := map[int]procStat{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		procs[pid] = st
		if st.state == 'Z' {
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
func treeZombies(procs map[int]procStat, root int) int {
	n := 0
	for _, st := range procs {
		if st.state != 'Z' {
			continue
		}
		// Walk up; a pid is at most len(procs) steps from the top.
		for p, steps := st.ppid, 0; p > 0 && steps <= len(procs); steps++ {
			if p == root {
				n++
				break
			}
			p = procs[p].ppid
		}
	}
	return n
}
