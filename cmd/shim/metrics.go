package main

import (
	"os"

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
	src.File, src.Journal = m.setup.logs.Counts()
	if m.srv != nil {
		src.Attach = m.srv.Stats
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
