package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

func figures(s snapshot) []any {
	g := "-"
	if s.goroutines >= 0 {
		g = strconv.Itoa(s.goroutines)
	}
	return []any{strconv.Itoa(s.fds), g, strconv.Itoa(s.rssKiB), strconv.Itoa(s.privDirKiB),
		strconv.Itoa(s.monitors), strconv.Itoa(s.zombies), strconv.Itoa(s.hostZombies)}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func verdict(broken []string, w work) string {
	var why []string
	if w.errors > 0 {
		why = append(why, fmt.Sprintf("%d errors, first: %s", w.errors, w.firstErr))
	}
	if len(broken) > 0 {
		why = append(why, strings.Join(broken, ","))
	}
	if len(why) == 0 {
		return "PASS"
	}
	return "FAIL (" + strings.Join(why, "; ") + ")"
}

// printResult prints one monitor's phases: the figures after each (the
// row above is its start), and the bounds checked against that start; the
// last row holds the end against the very start.
func printResult(out io.Writer, res *result) {
	fmt.Fprintf(out, "\nsoak %s (%s): container %s, monitor pid %d; load %s at the start, %s at the end\n",
		res.label, res.monitor, res.ctr.name, res.ctr.monPid, res.load[0], res.load[1])
	line := func(cols [6]string, figs []any, verdict string) {
		fmt.Fprintf(out, "%-12s %6s %8s %8s %6s %8s  %6s %6s %9s %10s %5s %5s %6s  %s\n",
			append(append([]any{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]}, figs...), verdict)...)
	}
	line([6]string{"phase", "count", "wall_s", "mon_cpu", "execs", "exec_cpu"},
		[]any{"fds", "gorout", "rss_kib", "pdirty_kib", "mons", "zomb", "host_z"}, "result")
	line([6]string{"start"}, figures(res.start), "")
	var wall, cpu, execCPU time.Duration
	var execN int
	for _, r := range res.rows {
		wall, cpu, execN, execCPU = wall+r.wall, cpu+r.monCPU, execN+r.w.execN, execCPU+r.w.execCPU
		line([6]string{r.phase, strconv.Itoa(r.count), secs(r.wall), secs(r.monCPU), strconv.Itoa(r.w.execN),
			secs(r.w.execCPU)}, figures(r.after), verdict(r.broken, r.w))
		if r.w.note != "" {
			fmt.Fprintf(out, "%-12s %s\n", "", r.w.note)
		}
	}
	line([6]string{"end/start", "", secs(wall), secs(cpu), strconv.Itoa(execN), secs(execCPU)},
		figures(res.end), verdict(res.broken, work{}))
}

// printCompare prints the monitors side by side: per phase the wall time,
// the long-lived monitor's CPU and the short-lived monitors' CPU, and the
// start and end figures of each.
func printCompare(out io.Writer, results []*result) {
	fmt.Fprintf(out, "\nside by side (seconds; mon_cpu = the long-lived monitor, exec_cpu = the exec monitors)\n")
	fmt.Fprintf(out, "%-12s %6s", "phase", "count")
	for _, col := range []string{"wall", "mon_cpu", "exec_cpu"} {
		for _, res := range results {
			fmt.Fprintf(out, " %14s", col+" "+res.label)
		}
	}
	for _, res := range results {
		fmt.Fprintf(out, "  %-8s", res.label)
	}
	fmt.Fprintln(out)
	for i, r := range results[0].rows {
		fmt.Fprintf(out, "%-12s %6d", r.phase, r.count)
		cells := func(f func(row) time.Duration) {
			for _, res := range results {
				fmt.Fprintf(out, " %14s", secs(f(res.rows[i])))
			}
		}
		cells(func(r row) time.Duration { return r.wall })
		cells(func(r row) time.Duration { return r.monCPU })
		cells(func(r row) time.Duration { return r.w.execCPU })
		for _, res := range results {
			v := "PASS"
			if res.rows[i].failed() {
				v = "FAIL"
			}
			fmt.Fprintf(out, "  %-8s", v)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "\n%-18s", "start -> end")
	for _, res := range results {
		fmt.Fprintf(out, " %24s", res.label)
	}
	fmt.Fprintln(out)
	names := []string{"fds", "goroutines", "rss_kib", "private_dirty_kib", "monitors", "zombies", "host zombies"}
	for k, name := range names {
		fmt.Fprintf(out, "%-18s", name)
		for _, res := range results {
			a, b := figures(res.start)[k].(string), figures(res.end)[k].(string)
			v := "PASS"
			if name == "host zombies" {
				v = "(not checked)"
			}
			for _, br := range res.broken {
				if strings.HasPrefix(name, br) {
					v = "FAIL"
				}
			}
			fmt.Fprintf(out, " %24s", a+" -> "+b+" "+v)
		}
		fmt.Fprintln(out)
	}
}
