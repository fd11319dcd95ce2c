// Package metrics is the monitor's side of shim's Prometheus metrics: one
// container's counters, rendered by hand in the Prometheus text format and
// served on a unix socket in the bundle (<bundle>/metrics.sock). It imports
// neither net/http nor client_golang, which would cost every monitor about
// 1.2 MiB of private memory; the node-wide exporter (cmd/shim-exporter)
// scrapes the sockets and serves HTTP.
//
// Metrics are off unless the monitor's environment sets SHIM_METRICS=1. Off,
// the monitor holds a nil *Container: every method returns at once on a nil
// receiver, so hooks cost one comparison, open nothing and allocate nothing.
//
// Most numbers are not kept here but read, at scrape time, from the running
// totals the log drivers (logs.Counts) and the attach socket (attach.Stats)
// keep anyway; this package adds the few the monitor itself sees.
package metrics

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/logs"
	"github.com/shim-project/shim/oom"
)

// EnvVar turns metrics on when set to 1 (or true, yes, on) in the monitor's
// environment: podman's containers.conf conmon_env_vars or CRI-O's
// monitor_env.
const EnvVar = "SHIM_METRICS"

// Enabled reports whether v, the value of EnvVar, asks for metrics.
func Enabled(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// Labels identify the monitor's container in every sample.
type Labels struct {
	ContainerID string // --cid
	Name        string // --name
	ExecID      string // --cuuid of an exec session; "" for the container's own monitor
}

// Sources are the totals other packages keep, read at scrape time. Any may
// be nil.
type Sources struct {
	File    *logs.Counts        // the k8s-file driver
	Journal *logs.Counts        // the journald driver
	Attach  func() attach.Stats // the attach socket
}

// Container holds one monitor's metrics. The zero value is not usable; a
// nil *Container is (metrics off).
type Container struct {
	labels string // rendered: container_id="…",container_name="…"[,exec_id="…"]
	src    Sources
	start  time.Time

	toPid   atomic.Int64 // ns from start until the container pid was known; 0 = not yet
	exited  atomic.Bool
	exit    atomic.Int64 // container exit status, once exited
	resizes atomic.Uint64
	oom     oomCounter

	srv *server
}

// New starts counting for one container; the clock for
// shim_time_to_pid_seconds starts now.
func New(l Labels, src Sources) *Container {
	b := appendLabel(nil, "container_id", l.ContainerID)
	b = append(b, ',')
	b = appendLabel(b, "container_name", l.Name)
	if l.ExecID != "" {
		b = append(b, ',')
		b = appendLabel(b, "exec_id", l.ExecID)
	}
	return &Container{labels: string(b), src: src, start: time.Now()}
}

// Started records that the container's pid is known, and takes its memory
// cgroup from the OOM watcher (nil when there is none) to count OOM kills
// from, at scrape time.
func (c *Container) Started(w *oom.Watcher) {
	if c == nil {
		return
	}
	c.toPid.CompareAndSwap(0, max(int64(time.Since(c.start)), 1))
	if cg, ok := w.Cgroup(); ok {
		c.oom.watch(cg)
	}
}

// Exited records the container's exit status (§11.2: the code, or 128+signal)
// and reads its OOM kills a last time, before the engine removes the cgroup.
func (c *Container) Exited(status int) {
	if c == nil {
		return
	}
	c.oom.refresh()
	c.exit.Store(int64(status))
	c.exited.Store(true)
}

// CountResizes wraps a terminal's resize function to count the resizes that
// succeeded. On a nil receiver it returns resize itself.
func (c *Container) CountResizes(resize func(rows, cols uint16) error) func(rows, cols uint16) error {
	if c == nil {
		return resize
	}
	return func(rows, cols uint16) error {
		err := resize(rows, cols)
		if err == nil {
			c.resizes.Add(1)
		}
		return err
	}
}
