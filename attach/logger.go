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

// orNop lets every option struct leave Logger nil.
func orNop(l Logger) Logger {
	if l == nil {
		return nopLogger{}
	}
	return l
}
