package exitcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// RecordVersion is exit.json's schema version (§16.3). Fields are only ever
// added under one version; a removal or change of meaning bumps it.
const RecordVersion = 1

// RecordName is the exit record's file name in the bundle and persist dir.
const RecordName = "exit.json"

// Outcomes, as exit.json spells them.
const (
	OutcomeExited       = "exited"
	OutcomeTimedOut     = "timed_out"
	OutcomeCreateFailed = "create_failed"
	OutcomeSetupFailed  = "setup_failed"
)

// Record is exit.json: why and how a container's life ended, for engines
// and people that want more than the exit file's one integer.
type Record struct {
	Version int    `json:"version"`
	Outcome string `json:"outcome"`
	// ExitCode is the exit file's value (§11.2); nil when the container
	// never ran (no exit file is written then either).
	ExitCode *int `json:"exit_code"`
	// Signal is set when a signal ended the process.
	Signal    *Signal `json:"signal,omitempty"`
	OOMKilled bool    `json:"oom_killed"`
	TimedOut  bool    `json:"timed_out"`
	// Error is the runtime's error text (create_failed) or the monitor's
	// (setup_failed), as sent to the engine.
	Error      string     `json:"error,omitempty"`
	StartedAt  *Timestamp `json:"started_at,omitempty"` // the container's pid became known
	FinishedAt Timestamp  `json:"finished_at"`          // its exit was seen (or the failure)
	Logs       LogRecord  `json:"logs"`
	// MonitorPeakRSS is the monitor's own peak resident set (VmHWM), bytes.
	MonitorPeakRSS uint64 `json:"monitor_peak_rss_bytes"`
}

// Signal names a signal both ways: the number engines compute with, the
// name people read.
type Signal struct {
	Number int    `json:"number"`
	Name   string `json:"name"`
}

// NewSignal describes sig, e.g. {9, "SIGKILL"}.
func NewSignal(sig unix.Signal) *Signal {
	name := unix.SignalName(sig)
	if name == "" {
		name = fmt.Sprintf("SIG%d", int(sig))
	}
	return &Signal{Number: int(sig), Name: name}
}

// LogRecord is what the log drivers got of each stream.
type LogRecord struct {
	Stdout StreamRecord `json:"stdout"`
	Stderr StreamRecord `json:"stderr"`
}

// StreamRecord counts one stream's output: logged, and kept from the logs
// by a log rate limit. Lines are complete, newline-ended lines.
type StreamRecord struct {
	LoggedBytes  uint64 `json:"logged_bytes"`
	LoggedLines  uint64 `json:"logged_lines"`
	DroppedBytes uint64 `json:"dropped_bytes"`
	DroppedLines uint64 `json:"dropped_lines"`
}

// Timestamp is a time in RFC 3339 with nanoseconds, in UTC.
type Timestamp time.Time

// MarshalJSON writes e.g. "2026-12-02T07:51:03.123456789Z".
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339Nano) + `"`), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Timestamp(v)
	return nil
}

// WriteRecord writes rec as exit.json into the bundle and the persist dir
// (whichever are set), each atomically (temporary + rename). It goes before
// the exit files, so whoever reacts to those finds the record complete.
// Every dir is tried; the failures are joined.
func (f Files) WriteRecord(rec Record) error {
	if f.Bundle == "" && f.PersistDir == "" {
		return nil
	}
	rec.Version = RecordVersion
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", RecordName, err)
	}
	b = append(b, '\n')
	var errs []error
	for _, dir := range []string{f.Bundle, f.PersistDir} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, RecordName)
		if err := WriteAtomic(p, b, fileMode); err != nil {
			errs = append(errs, fmt.Errorf("write exit record %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
