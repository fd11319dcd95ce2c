// Package diag is the monitor's own diagnostics (§12.3): conmon's prefixed
// lines on stderr and, with --syslog, conmon's records on the local syslog
// socket. It is built on zapcore alone (the zap package pulls net/http into
// every monitor).
package diag

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.uber.org/zap/zapcore"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/syslog"
)

// Options are the command-line settings the logger follows; the names are
// those of the options.
type Options struct {
	LogLevel  string // --log-level; "" (not given) means warning
	Syslog    bool   // --syslog
	Cid       string // --cid, named in syslog records
	LogTag    string // --log-tag, likewise
	LogTagSet bool
}

// Logger writes to two sinks: stderr, which is the engine's until the
// daemon detaches (then SetStderr swaps in a discarding writer), and with
// --syslog the local syslog socket, the only place a detached daemon's
// messages can still be seen. A nil *Logger logs nothing.
type Logger struct {
	lvl zapcore.Level
	o   Options
	w   io.Writer // the stderr sink
	// core is built at the first message that passes lvl: most monitors
	// never log, and zapcore's encoder and buffer pool would otherwise sit
	// in every idle monitor's heap (docs/memory.md).
	once sync.Once
	core zapcore.Core
}

// syslogPathEnv lets the integration tests point --syslog at a socket of
// their own when the machine has no /dev/log. Engines never set it.
const syslogPathEnv = "_SHIM_TEST_SYSLOG_SOCKET"

// zapLevel maps conmon's levels onto zapcore's; trace, which zapcore lacks,
// lands one below debug.
func zapLevel(l cabi.Level) zapcore.Level { return zapcore.ErrorLevel - zapcore.Level(l) }

// conmonLevel is zapLevel's inverse.
func conmonLevel(l zapcore.Level) cabi.Level {
	return cabi.Level(zapcore.ErrorLevel - min(l, zapcore.ErrorLevel))
}

// New returns the logger for o. o.LogLevel must have passed validation; an
// unknown name means the default, warning.
func New(o Options) *Logger {
	level, _ := cabi.ParseLevel(o.LogLevel)
	return &Logger{lvl: zapLevel(level), o: o, w: os.Stderr}
}

// build makes the core (once, at the first message that is written).
func (d *Logger) build() {
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{
		MessageKey:       "msg",
		LevelKey:         "level",
		EncodeLevel:      encodePrefix,
		ConsoleSeparator: " ",
		LineEnding:       "\n",
	})
	d.core = zapcore.NewCore(enc, zapcore.AddSync(stderrSink{d}), d.lvl)
	if d.o.Syslog {
		path := syslog.DefaultPath
		if p := os.Getenv(syslogPathEnv); p != "" {
			path = p
		}
		d.core = zapcore.NewTee(d.core, &syslogCore{
			LevelEnabler: d.lvl,
			w:            syslog.New(path, filepath.Base(os.Args[0])),
			id:           syslogID(d.o),
		})
	}
}

// SetStderr replaces the stderr sink, at once for every later message. The
// monitor calls it when it detaches from the engine's stderr; it must not
// race with logging.
func (d *Logger) SetStderr(w io.Writer) { d.w = w }

// encodePrefix writes conmon's stderr prefix; the separator adds the space.
func encodePrefix(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(strings.TrimSuffix(conmonLevel(l).Prefix(), " "))
}

// stderrSink writes through d.w so that detaching takes effect at once.
type stderrSink struct{ d *Logger }

func (s stderrSink) Write(p []byte) (int, error) { return s.d.w.Write(p) }

func (d *Logger) logf(l cabi.Level, format string, args []any) {
	lvl := zapLevel(l)
	if d == nil || !d.lvl.Enabled(lvl) {
		return
	}
	d.once.Do(d.build)
	ent := zapcore.Entry{Level: lvl, Message: fmt.Sprintf(format, args...)}
	if ce := d.core.Check(ent, nil); ce != nil {
		ce.Write()
	}
}

func (d *Logger) Errorf(format string, args ...any) { d.logf(cabi.LevelError, format, args) }
func (d *Logger) Warnf(format string, args ...any)  { d.logf(cabi.LevelWarn, format, args) }
func (d *Logger) Infof(format string, args ...any)  { d.logf(cabi.LevelInfo, format, args) }
func (d *Logger) Debugf(format string, args ...any) { d.logf(cabi.LevelDebug, format, args) }
func (d *Logger) Tracef(format string, args ...any) { d.logf(cabi.LevelTrace, format, args) }

// DebugEnabled reports whether Debugf writes anything, so that callers on
// hot paths can skip formatting their arguments.
func (d *Logger) DebugEnabled() bool { return d != nil && d.lvl.Enabled(zapLevel(cabi.LevelDebug)) }

// InfoEnabled is DebugEnabled for Infof.
func (d *Logger) InfoEnabled() bool { return d != nil && d.lvl.Enabled(zapLevel(cabi.LevelInfo)) }

// syslogID is what conmon puts after "conmon ": the first 20 characters of
// the container ID, or of "ID: TAG" with --log-tag.
func syslogID(o Options) string {
	id := o.Cid
	if o.LogTagSet {
		id += ": " + o.LogTag
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
	_ = c.w.Send(pri, "conmon "+c.id+" "+syslogKind(conmonLevel(e.Level))+": "+e.Message)
	return nil
}

func (c *syslogCore) Sync() error { return nil }

// syslogKind is the literal tag conmon's logging macros put in the text.
func syslogKind(l cabi.Level) string {
	return [...]string{
		cabi.LevelError: "<error>",
		cabi.LevelWarn:  "<nwarn>",
		cabi.LevelInfo:  "<ninfo>",
		cabi.LevelDebug: "<ndebug>",
		cabi.LevelTrace: "<ntrace>",
	}[l]
}
