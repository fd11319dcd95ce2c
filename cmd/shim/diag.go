package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// diag is the monitor's own diagnostics (§12.3): conmon-style prefixes on
// stderr, which is the engine's until the daemon detaches and /dev/null after.
type diag struct {
	level int
	w     io.Writer
}

const (
	levelError = iota
	levelWarn
	levelInfo
	levelDebug
	levelTrace
)

// parseLevel maps --log-level values (case-insensitive) to a level.
func parseLevel(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "error", "fatal", "panic":
		return levelError, true
	case "", "warn", "warning":
		return levelWarn, true
	case "info":
		return levelInfo, true
	case "debug":
		return levelDebug, true
	case "trace":
		return levelTrace, true
	}
	return 0, false
}

func newDiag(cfg *config) *diag {
	lvl, _ := parseLevel(cfg.LogLevel)
	return &diag{level: lvl, w: os.Stderr}
}

func (d *diag) logf(lvl int, prefix, format string, args []any) {
	if d == nil || lvl > d.level {
		return
	}
	fmt.Fprintf(d.w, prefix+format+"\n", args...)
}

func (d *diag) Errorf(format string, args ...any) { d.logf(levelError, "[conmon:e]: ", format, args) }
func (d *diag) Warnf(format string, args ...any)  { d.logf(levelWarn, "[conmon:w]: ", format, args) }
func (d *diag) Infof(format string, args ...any)  { d.logf(levelInfo, "[conmon:i]: ", format, args) }
func (d *diag) Debugf(format string, args ...any) { d.logf(levelDebug, "[conmon:d]: ", format, args) }
func (d *diag) Tracef(format string, args ...any) { d.logf(levelTrace, "[conmon:d]: ", format, args) }
