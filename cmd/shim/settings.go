package main

import (
	"os"

	"github.com/shim-project/shim/logs"
	"github.com/shim-project/shim/settings"
)

// applySettings reads the per-container settings (§16.4: annotations in
// the bundle's config.json, defaults from our environment) and applies
// those the log drivers take. Invalid values were warned about; the
// container runs with the defaults.
func (d *daemon) applySettings() {
	s := settings.Load(d.cfg.Bundle, os.Getenv, d.lg)
	d.settings = s
	if s.LogRate > 0 && !d.setup.passthrough {
		d.setup.logs.SetLimit(logs.Limit{Rate: s.LogRate, Burst: s.LogBurst, Block: s.LogPolicy == settings.Block})
		d.lg.Debugf("log rate limit %d B/s, burst %d B, %s", s.LogRate, s.LogBurst, s.LogPolicy)
	}
}
