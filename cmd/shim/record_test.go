package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/oom"
)

// v2Events is a cgroup v2 memory.events with the given oom_kill count.
func v2Events(kills string) []byte {
	return []byte("low 0\nhigh 0\nmax 1\noom 1\noom_kill " + kills + "\noom_group_kill 0\n")
}

// TestRecordFill: the daemon's part of exit.json (§16.3): the OOM verdict
// from a cgroup v2 tree (a fake one: this machine's memory controller is
// v1; the real v1 path is in integration's TestOOMFiles), the log totals
// per stream, and the monitor's peak memory.
func TestRecordFill(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kills string
		want  bool
	}{{"oom kill", "1", true}, {"no oom kill", "0", false}} {
		t.Run(tc.name, func(t *testing.T) {
			d := metricsMon(t)
			root := t.TempDir()
			cg := filepath.Join(root, "pod", "ctr")
			if err := os.MkdirAll(cg, 0o755); err != nil {
				t.Fatal(err)
			}
			events := filepath.Join(cg, "memory.events")
			if err := os.WriteFile(events, v2Events("0"), 0o644); err != nil {
				t.Fatal(err)
			}
			d.oom = oom.Watch(oom.Cgroup{Dir: cg, Root: root}, d.lg, d.cfg.Bundle)
			if d.oom == nil {
				t.Fatal("no watcher on the fake tree")
			}
			if err := os.WriteFile(events, v2Events(tc.kills), 0o644); err != nil {
				t.Fatal(err)
			}
			w := d.setup.logs
			if err := w.Write(stream.Stdout, []byte("a\nbc\npart")); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(stream.Stderr, []byte("err\n")); err != nil {
				t.Fatal(err)
			}
			var r exitcode.Record
			d.Record(&r)
			if r.OOMKilled != tc.want {
				t.Errorf("oom_killed %v, want %v", r.OOMKilled, tc.want)
			}
			want := exitcode.LogRecord{
				Stdout: exitcode.StreamRecord{LoggedBytes: 9, LoggedLines: 2},
				Stderr: exitcode.StreamRecord{LoggedBytes: 4, LoggedLines: 1},
			}
			if r.Logs != want {
				t.Errorf("logs %+v, want %+v", r.Logs, want)
			}
			if r.MonitorPeakRSS < 1<<20 {
				t.Errorf("peak RSS %d bytes", r.MonitorPeakRSS)
			}
		})
	}
}
