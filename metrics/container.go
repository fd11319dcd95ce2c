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
// totals the log drivers, the attach socket and the OOM watcher keep anyway;
// this package adds the few the monitor itself sees. It takes those totals as
// plain numbers (Sources, OOMCounter) and imports none of the packages that
// keep them, so the exporter, which needs only SocketName, links none of them.
package metrics

import (
	"strings"
	"sync/atomic"
	"time"
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
	File    func() LogCounts    // the k8s-file driver
	Journal func() LogCounts    // the journald driver
	Attach  func() AttachCounts // the attach socket
	Limit   func() LimitCounts  // the log rate limit (§16.5), when set
}

// LimitCounts are what the log rate limit kept from the logs.
type LimitCounts struct {
	DroppedBytes, DroppedLines [2]uint64 // per stream: 0 stdout, 1 stderr
	Markers                    uint64    // marker entries logged
}

// LogCounts are one log driver's totals. Its fields are those of
// logs.Totals, in the same order, so that the wiring converts one into the
// other (metrics.LogCounts(t)); a field added to one must go into both.
type LogCounts struct {
	Bytes, Lines, Partial [2]uint64 // per stream: 0 stdout, 1 stderr

	DroppedLimit   uint64 // output not logged: --log-global-size-max reached
	DroppedNoSpace uint64 // log bytes lost to ENOSPC or EDQUOT
	DroppedError   uint64 // log bytes lost to other write or send errors
	Errors         uint64 // failed writes or sends
	Rotations      uint64 // new files for --log-size-max
	Reopens        uint64 // new files on request
}

// AttachCounts are the attach socket's totals, with the fields of
// attach.Stats in the same order (metrics.AttachCounts(st) converts).
type AttachCounts struct {
	Clients          uint64 // connected now
	Accepted         uint64 // accepted since the socket was opened
	SlowDisconnects  uint64 // dropped for lagging
	SlowDroppedBytes uint64 // output the lagging clients missed
	InputBytes       uint64 // written to the container's stdin
}

// OOMCounter counts the OOM kills of the container's memory cgroup;
// *oom.Watcher is one (a nil one included).
type OOMCounter interface {
	// OOMKills reads the count now; once the cgroup is gone it returns the
	// last count read. ok is false while no count was ever read.
	OOMKills() (n uint64, ok bool)
}

// oomRef holds an OOMCounter for atomic.Pointer: Started sets it while
// scrapes may read it.
type oomRef struct{ OOMCounter }

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
	oom     atomic.Pointer[oomRef] // nil until Started with a counter

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

// Started records that the container's pid is known, and takes the counter
// of its OOM kills (nil when there is none), read at scrape time.
func (c *Container) Started(kills OOMCounter) {
	if c == nil {
		return
	}
	c.toPid.CompareAndSwap(0, max(int64(time.Since(c.start)), 1))
	if kills != nil {
		c.oom.Store(&oomRef{kills})
	}
}

// Exited records the container's exit status (§11.2: the code, or 128+signal)
// and reads its OOM kills a last time, before the engine removes the cgroup:
// the counter keeps that count for later scrapes.
func (c *Container) Exited(status int) {
	if c == nil {
		return
	}
	c.oomKills()
	c.exit.Store(int64(status))
	c.exited.Store(true)
}

// oomKills reads the OOM kill count, if there is a counter and it has one.
func (c *Container) oomKills() (uint64, bool) {
	if r := c.oom.Load(); r != nil {
		return r.OOMKills()
	}
	return 0, false
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
