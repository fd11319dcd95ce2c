package main

import (
	"os"

	"github.com/shim-project/shim/logs"
	"github.com/shim-project/shim/metrics"
)

// Prometheus metrics (package metrics) are opt-in: engines pass no new
// flags, but podman (containers.conf conmon_env_vars) and CRI-O
// (monitor_env) can set the monitor's environment. Off, d.stats stays nil
// and the hooks elsewhere (d.stats.Started, .Exited, .CountResizes, .Close)
// return at once: nothing is opened, started or allocated.

// startMetrics serves the container's metrics on <bundle>/metrics.sock when
// SHIM_METRICS=1. Call it once the log drivers and the attach socket exist,
// whose totals it reads. Failing to serve is a warning only: metrics never
// stop a container.
func (d *daemon) startMetrics() {
	if d.cfg.Bundle == "" || !metrics.Enabled(os.Getenv(metrics.EnvVar)) {
		return
	}
	var src metrics.Sources
	file, journal := d.setup.logs.Counts()
	src.File, src.Journal = logTotals(file), logTotals(journal)
	if l := d.setup.logs.Limiter(); l != nil {
		src.Limit = func() metrics.LimitCounts {
			var c metrics.LimitCounts
			for i, t := range l.Totals() {
				c.DroppedBytes[i], c.DroppedLines[i] = t.Dropped.Bytes, t.Dropped.Lines
				c.Markers += t.Markers
			}
			return c
		}
	}
	if srv := d.io.Server(); srv != nil {
		src.Attach = func() metrics.AttachCounts { return metrics.AttachCounts(srv.Stats()) }
	}
	l := metrics.Labels{ContainerID: d.cfg.Cid, Name: d.cfg.Name}
	if d.cfg.Exec {
		l.ExecID = d.cfg.Cuuid // podman's exec session id
	}
	c := metrics.New(l, src)
	if err := c.Listen(d.cfg.Bundle); err != nil {
		d.lg.Warnf("metrics: %v", err)
		return
	}
	d.stats = c
}

// countResizes counts the terminal's resizes once metrics are on (cio
// calls it when the terminal arrives, after startMetrics).
func (d *daemon) countResizes(resize func(rows, cols uint16) error) func(rows, cols uint16) error {
	return d.stats.CountResizes(resize)
}

// logTotals reads a driver's totals for metrics; nil for a driver that is
// not configured.
func logTotals(c *logs.Counts) func() metrics.LogCounts {
	if c == nil {
		return nil
	}
	return func() metrics.LogCounts { return metrics.LogCounts(c.Snapshot()) }
}
