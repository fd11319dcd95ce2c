package attach

// Logger receives the package's diagnostics. The monitor maps the levels onto
// conmon's `[conmon:w]` / `[conmon:i]` / `[conmon:d]` lines (§12.3).
// Methods may be called from several goroutines at once.
type Logger interface {
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) DebugEnabled() bool    { return false }
func (nopLogger) InfoEnabled() bool     { return false }

// debugEnabled reports whether l wants debug lines at all. The per-client
// ones are skipped otherwise: boxing their arguments allocates, which a
// connection storm pays per client (issue 11). A Logger without
// DebugEnabled gets them all.
func debugEnabled(l Logger) bool {
	if d, ok := l.(interface{ DebugEnabled() bool }); ok {
		return d.DebugEnabled()
	}
	return true
}

// infoEnabled is debugEnabled for Infof (a ctl message logs one line).
func infoEnabled(l Logger) bool {
	if d, ok := l.(interface{ InfoEnabled() bool }); ok {
		return d.InfoEnabled()
	}
	return true
}

// orNop lets every option struct leave Logger nil.
func orNop(l Logger) Logger {
	if l == nil {
		return nopLogger{}
	}
	return l
}
