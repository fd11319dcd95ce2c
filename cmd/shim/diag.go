package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap/zapcore"

	"github.com/shim-project/shim/internal/syslog"
)

// diag is the monitor's own diagnostics (§12.3), built on zapcore alone (the
// zap package pulls net/http into every monitor). Two sinks: conmon-style
// prefixed lines on stderr, which is the engine's until the daemon detaches
// and /dev/null after, and with --syslog the local syslog socket, the only
// place a detached daemon's messages can still be seen.
type diag struct {
	core zapcore.Core
	w    io.Writer // stderr sink; callers swap in discard{} once detached
}

// levelTrace is conmon's level below debug; zapcore has none, so use the
// next lower value.
const levelTrace = zapcore.DebugLevel - 1

// syslogPathEnv lets the integration tests point --syslog at a socket of
// their own when the machine has no /dev/log. Engines never set it.
const syslogPathEnv = "_SHIM_TEST_SYSLOG_SOCKET"

// parseLevel maps --log-level values (case-insensitive) to a level.
func parseLevel(s string) (zapcore.Level, bool) {
	switch strings.ToLower(s) {
	case "error", "fatal", "panic":
		return zapcore.ErrorLevel, true
	case "", "warn", "warning":
		return zapcore.WarnLevel, true
	case "info":
		return zapcore.InfoLevel, true
	case "debug":
		return zapcore.DebugLevel, true
	case "trace":
		return levelTrace, true
	}
	return 0, false
}

func newDiag(cfg *config) *diag {
	lvl, _ := parseLevel(cfg.LogLevel)
	d := &diag{w: os.Stderr}
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey:       "msg",
		LevelKey:         "level",
		EncodeLevel:      encodePrefix,
		ConsoleSeparator: " ",
		LineEnding:       "\n",
	})
	d.core = zapcore.NewCore(enc, zapcore.AddSync(stderrSink{d}), lvl)
	if cfg.Syslog {
		path := syslog.DefaultPath
		if p := os.Getenv(syslogPathEnv); p != "" {
			path = p
		}
		d.core = zapcore.NewTee(d.core, &syslogCore{
			LevelEnabler: lvl,
			w:            syslog.New(path, filepath.Base(os.Args[0])),
			id:           syslogID(cfg),
		})
	}
	return d
}

// encodePrefix writes conmon's stderr prefix; the separator adds the space.
func encodePrefix(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	switch {
	case l >= zapcore.ErrorLevel:
		enc.AppendString("[conmon:e]:")
	case l == zapcore.WarnLevel:
		enc.AppendString("[conmon:w]:")
	case l == zapcore.InfoLevel:
		enc.AppendString("[conmon:i]:")
	default: // debug and trace share conmon's "d"
		enc.AppendString("[conmon:d]:")
	}
}

// stderrSink writes through d.w so that detaching takes effect at once.
type stderrSink struct{ d *diag }

func (s stderrSink) Write(p []byte) (int, error) { return s.d.w.Write(p) }

func (d *diag) logf(lvl zapcore.Level, format string, args []any) {
	if d == nil || !d.core.Enabled(lvl) {
		return
	}
	ent := zapcore.Entry{Level: lvl, Message: fmt.Sprintf(format, args...)}
	if ce := d.core.Check(ent, nil); ce != nil {
		ce.Write()
	}
}

func (d *diag) Errorf(format string, args ...any) { d.logf(zapcore.ErrorLevel, format, args) }
func (d *diag) Warnf(format string, args ...any)  { d.logf(zapcore.WarnLevel, format, args) }
func (d *diag) Infof(format string, args ...any)  { d.logf(zapcore.InfoLevel, format, args) }
func (d *diag) Debugf(format string, args ...any) { d.logf(zapcore.DebugLevel, format, args) }
func (d *diag) Tracef(format string, args ...any) { d.logf(levelTrace, format, args) }

// syslogID is what conmon puts after "conmon ": the first 20 characters of
// the container ID, or of "ID: TAG" with --log-tag.
func syslogID(cfg *config) string {
	id := cfg.Cid
	if cfg.LogTagSet {
		id += ": " + cfg.LogTag
	}
	if len(id) > 20 {
		id = id[:20]
	}
	return id
}

// syslogCore sends entries as conmon's syslog() calls do (§12.3): LOG_ERR
// for errors, LOG_INFO otherwise, text "conmon ID <KIND>: msg".
type syslogCore struct {
	zapcore.LevelEnabler
	w  *syslog.Writer
	id string
}

func (c *syslogCore) With([]zapcore.Field) zapcore.Core { return c }

func (c *syslogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *syslogCore) Write(e zapcore.Entry, _ []zapcore.Field) error {
	pri := syslog.Info
	if e.Level >= zapcore.ErrorLevel {
		pri = syslog.Err
	}
	// A missing syslog socket loses the message, as with syslog(3).
	_ = c.w.Send(pri, "conmon "+c.id+" "+syslogKind(e.Level)+": "+e.Message)
	return nil
}

func (c *syslogCore) Sync() error { return nil }

// syslogKind is the literal tag conmon's logging macros put in the text.
func syslogKind(l zapcore.Level) string {
	switch {
	case l >= zapcore.ErrorLevel:
		return "<error>"
	case l == zapcore.WarnLevel:
		return "<nwarn>"
	case l == zapcore.InfoLevel:
		return "<ninfo>"
	case l == zapcore.DebugLevel:
		return "<ndebug>"
	}
	return "<ntrace>"
}
