package main

import (
	"os"

	"github.com/shim-project/shim/logs"
	"github.com/shim-project/shim/metrics"
)

// Prometheus metrics (package metrics) are opt-in: engines pass no new
// flags, but podman (containers.conf conmon_env_vars) and CRI-O
// (monitor_env) can set the monitor's environment. Off, m.stats stays nil
// and the hooks elsewhere (m.stats.Started, .Exited, .CountResizes, .Close)
// return at once: nothing is opened, started or allocated.

// startMetrics serves the container's metrics on <bundle>/metrics.sock when
// SHIM_METRICS=1. Call it once the log drivers and the attach socket exist,
// whose totals it reads. Failing to serve is a warning only: metrics never
// stop a container.
func (m *mon) startMetrics() {
	if m.cfg.Bundle == "" || !metrics.Enabled(os.Getenv(metrics.EnvVar)) {
		return
	}
	var src metrics.Sources
	file, journal := m.setup.logs.Counts()
	src.File, src.Journal = logTotals(file), logTotals(journal)
	if srv := m.srv; srv != nil {
		src.Attach = func() metrics.AttachCounts { return metrics.AttachCounts(srv.Stats()) }
	}
	l := metrics.Labels{ContainerID: m.cfg.Cid, Name: m.cfg.Name}
	if m.cfg.Exec {
		l.ExecID = m.cfg.Cuuid // podman's exec session id
	}
	c := metrics.New(l, src)
	if err := c.Listen(m.cfg.Bundle); err != nil {
		m.lg.Warnf("metrics: %v", err)
		return
	}
	m.stats = c
}

// logTotals reads a driver's totals for metrics; nil for a driver that is
// not configured.
func logTotals(c *logs.Counts) func() metrics.LogCounts {
	if c == nil {
		return nil
	}
	return func() metrics.LogCounts { return metrics.LogCounts(c.Snapshot()) }
}
