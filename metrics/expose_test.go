package metrics

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shim-project/shim/internal/testutil"
)

// parse reads the exposition with Prometheus' own text parser.
func parse(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, b)
	}
	return fams
}

// value returns the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	var found []float64
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			found = append(found, m.Counter.GetValue())
		case m.Gauge != nil:
			found = append(found, m.Gauge.GetValue())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d samples, want 1", name, want, len(found))
	}
	return found[0]
}

func TestExposition(t *testing.T) {
	file := LogCounts{Bytes: [2]uint64{100, 7}, Lines: [2]uint64{10, 0}, Partial: [2]uint64{0, 1},
		DroppedLimit: 5, DroppedNoSpace: 6, Rotations: 2, Reopens: 3}
	journal := LogCounts{Errors: 4, DroppedError: 40}
	st := AttachCounts{Clients: 1, Accepted: 3, SlowDisconnects: 1, SlowDroppedBytes: 99, InputBytes: 12}
	c := New(Labels{ContainerID: "abc", Name: "web"}, Sources{
		File:    func() LogCounts { return file },
		Journal: func() LogCounts { return journal },
		Attach:  func() AttachCounts { return st },
	})
	resize := c.CountResizes(func(rows, cols uint16) error { return nil })
	resize(24, 80)
	resize(25, 80)
	c.Started(nil) // no OOM counter: no OOM sample
	c.Exited(137)

	fams := parse(t, c.Append(nil))
	id := map[string]string{"container_id": "abc", "container_name": "web"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"container_id": "abc", "container_name": "web"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"shim_log_bytes_total", with("driver", "k8s-file", "stream", "stdout"), 100},
		{"shim_log_bytes_total", with("driver", "k8s-file", "stream", "stderr"), 7},
		{"shim_log_bytes_total", with("driver", "journald", "stream", "stdout"), 0},
		{"shim_log_lines_total", with("driver", "k8s-file", "stream", "stdout"), 10},
		{"shim_log_partial_lines_total", with("driver", "k8s-file", "stream", "stderr"), 1},
		{"shim_log_write_errors_total", with("driver", "journald"), 4},
		{"shim_dropped_bytes_total", with("reason", "global_size_limit"), 5},
		{"shim_dropped_bytes_total", with("reason", "disk_full"), 6},
		{"shim_dropped_bytes_total", with("reason", "write_error"), 0},
		{"shim_dropped_bytes_total", with("reason", "journald_error"), 40},
		{"shim_dropped_bytes_total", with("reason", "slow_attach_client"), 99},
		{"shim_log_rotations_total", id, 2},
		{"shim_log_reopens_total", id, 3},
		{"shim_attach_clients", id, 1},
		{"shim_attach_clients_total", id, 3},
		{"shim_attach_slow_disconnects_total", id, 1},
		{"shim_stdin_bytes_total", id, 12},
		{"shim_tty_resizes_total", id, 2},
		{"shim_container_exit_code", id, 137},
	} {
		if got := value(t, fams, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if v := value(t, fams, "shim_time_to_pid_seconds", id); v <= 0 {
		t.Errorf("time to pid %v, want > 0", v)
	}
	if v := value(t, fams, "shim_monitor_resident_memory_bytes", id); v < 1<<20 {
		t.Errorf("resident memory %v, want at least 1 MiB", v)
	}
	if v := value(t, fams, "shim_monitor_goroutines", id); v < 1 {
		t.Errorf("goroutines %v", v)
	}
	if _, ok := fams["shim_container_oom_kills_total"]; ok {
		t.Error("OOM kills reported without a cgroup")
	}

	// With an OOM counter, its count is read at scrape time.
	var kills oomCount
	kills.Store(1)
	c.Started(&kills)
	kills.Store(2)
	if v := value(t, parse(t, c.Append(nil)), "shim_container_oom_kills_total", id); v != 2 {
		t.Errorf("OOM kills %v, want 2", v)
	}
}

// oomCount is an OOMCounter that always has a count.
type oomCount struct{ atomic.Uint64 }

func (o *oomCount) OOMKills() (uint64, bool) { return o.Load(), true }

// noOOMCount is an OOMCounter that has read no count (as a nil
// *oom.Watcher, or a cgroup without an oom_kill line).
type noOOMCount struct{}

func (noOOMCount) OOMKills() (uint64, bool) { return 0, false }

// TestOOMUnknown: a counter that has no count gives no OOM sample, before
// or after the exit.
func TestOOMUnknown(t *testing.T) {
	c := New(Labels{ContainerID: "abc"}, Sources{})
	c.Started(noOOMCount{})
	c.Exited(0)
	if _, ok := parse(t, c.Append(nil))["shim_container_oom_kills_total"]; ok {
		t.Fatal("OOM kills reported without a count")
	}
}

// TestExpositionMinimal: no log driver, no attach socket, not started: only
// the families that have a sample, and still valid text.
func TestExpositionMinimal(t *testing.T) {
	c := New(Labels{ContainerID: "abc", Name: "web", ExecID: "sess"}, Sources{})
	fams := parse(t, c.Append(nil))
	for name := range fams {
		switch name {
		case "shim_tty_resizes_total", "shim_monitor_resident_memory_bytes", "shim_monitor_goroutines":
		default:
			t.Errorf("unexpected family %s", name)
		}
	}
	value(t, fams, "shim_monitor_goroutines", map[string]string{"exec_id": "sess"})
}

// TestLabelEscaping: names with quotes, backslashes and newlines survive.
func TestLabelEscaping(t *testing.T) {
	name := "we\"ird\\na\nme"
	c := New(Labels{ContainerID: "id", Name: name}, Sources{})
	fams := parse(t, c.Append(nil))
	value(t, fams, "shim_monitor_goroutines", map[string]string{"container_name": name})
	if strings.Count(string(c.Append(nil)), "\n# TYPE ") == 0 {
		t.Fatal("no TYPE lines")
	}
}

// TestOffCostsNothing: with metrics off the monitor holds a nil *Container;
// every hook returns at once without allocating, and opens nothing.
func TestOffCostsNothing(t *testing.T) {
	var c *Container
	resize := func(rows, cols uint16) error { return nil }
	dir := t.TempDir()
	before := testutil.OpenFds(t)
	allocs := testing.AllocsPerRun(100, func() {
		c.Started(nil)
		c.Exited(0)
		_ = c.CountResizes(resize)
		_ = c.Append(nil)
		_ = c.Listen(dir)
		c.Close()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round of hooks on a nil Container", allocs)
	}
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("%d fds open, %d before", after, before)
	}
	if ents, _ := filepathGlob(dir); len(ents) != 0 {
		t.Fatalf("files in the bundle: %v", ents)
	}
}

func TestEnabled(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "TRUE": true, "yes": true, "on": true,
		"": false, "0": false, "false": false, "off": false, "2": false} {
		if Enabled(v) != want {
			t.Errorf("Enabled(%q) = %v", v, !want)
		}
	}
}
