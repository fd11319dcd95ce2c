package cabi

import "strings"

// The prefixes conmon puts before its own messages on stderr (§12.3).
const (
	// PlainPrefix is used by conmon's bare fprintf(stderr) checks, which run
	// before its logger is set up (§1.3 rows c1-c3).
	PlainPrefix = "conmon: "
	ErrorPrefix = "[conmon:e]: " // nexit, pexit and other error-level messages
	WarnPrefix  = "[conmon:w]: " // nwarn
	InfoPrefix  = "[conmon:i]: " // ninfo
	DebugPrefix = "[conmon:d]: " // ndebug and ntrace alike
)

// Level is one of conmon's log levels, from the least to the most verbose.
type Level int8

const (
	LevelError Level = iota // error, fatal, panic
	LevelWarn               // warn, warning; the default
	LevelInfo
	LevelDebug
	LevelTrace
)

// ParseLevel maps a --log-level value, in any case, to its level; these are
// the only names conmon accepts ("" is not one: conmon rejects an empty
// --log-level, only an absent one means LevelWarn).
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(s) {
	case "error", "fatal", "panic":
		return LevelError, true
	case "warn", "warning":
		return LevelWarn, true
	case "info":
		return LevelInfo, true
	case "debug":
		return LevelDebug, true
	case "trace":
		return LevelTrace, true
	}
	return LevelWarn, false
}

// Prefix is the stderr prefix of a message at l.
func (l Level) Prefix() string {
	switch {
	case l <= LevelError:
		return ErrorPrefix
	case l == LevelWarn:
		return WarnPrefix
	case l == LevelInfo:
		return InfoPrefix
	}
	return DebugPrefix
}
