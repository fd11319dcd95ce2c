package monitor

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/exitcode"
)

// readRecord decodes the harness's exit.json; ok is false when there is none.
func (h *harness) readRecord() (map[string]any, exitcode.Record, bool) {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, exitcode.RecordName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, exitcode.Record{}, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var raw map[string]any
	var rec exitcode.Record
	if err := json.Unmarshal(b, &raw); err != nil {
		h.t.Fatalf("exit.json %q: %v", b, err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		h.t.Fatalf("exit.json %q: %v", b, err)
	}
	return raw, rec, true
}

// TestExitRecord: exit.json for every way a life ends (§16.3).
func TestExitRecord(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		setup   error
		stderr  string
		check   func(t *testing.T, raw map[string]any, rec exitcode.Record)
	}{
		{name: "exit 3", script: `sh -c 'sleep 0.2; exit 3' & echo $! >"$PIDFILE"`,
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.Outcome != exitcode.OutcomeExited || rec.ExitCode == nil || *rec.ExitCode != 3 {
					t.Errorf("outcome %q exit code %v", rec.Outcome, rec.ExitCode)
				}
				if _, ok := raw["signal"]; ok || rec.TimedOut || rec.OOMKilled || rec.Error != "" {
					t.Errorf("record %+v", raw)
				}
				if rec.StartedAt == nil || !time.Time(rec.FinishedAt).After(time.Time(*rec.StartedAt)) {
					t.Errorf("started %v finished %v", rec.StartedAt, rec.FinishedAt)
				}
			}},
		{name: "SIGKILL", script: `sh -c 'sleep 0.2; kill -9 $$' & echo $! >"$PIDFILE"`,
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.ExitCode == nil || *rec.ExitCode != 137 {
					t.Errorf("exit code %v, want 137", rec.ExitCode)
				}
				if rec.Signal == nil || *rec.Signal != (exitcode.Signal{Number: 9, Name: "SIGKILL"}) {
					t.Errorf("signal %+v", rec.Signal)
				}
			}},
		{name: "exit 137 is not a signal", script: `sh -c 'exit 137' & echo $! >"$PIDFILE"`,
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.ExitCode == nil || *rec.ExitCode != 137 || rec.Signal != nil {
					t.Errorf("exit code %v signal %+v", rec.ExitCode, rec.Signal)
				}
			}},
		{name: "timeout", script: `setsid sleep 60 & echo $! >"$PIDFILE"`, timeout: 300 * time.Millisecond,
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.Outcome != exitcode.OutcomeTimedOut || !rec.TimedOut || rec.ExitCode == nil || *rec.ExitCode != -1 {
					t.Errorf("record %+v", raw)
				}
			}},
		{name: "create failure", script: `exit 1`, stderr: "runc: boom",
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.Outcome != exitcode.OutcomeCreateFailed || !strings.Contains(rec.Error, "runc: boom") {
					t.Errorf("outcome %q error %q", rec.Outcome, rec.Error)
				}
				if v, ok := raw["exit_code"]; !ok || v != nil {
					t.Errorf("exit_code %v (present %v), want null", v, ok)
				}
				if rec.StartedAt != nil {
					t.Errorf("started_at %v for a container that never started", rec.StartedAt)
				}
			}},
		{name: "setup failure", script: `exit 0`, setup: errors.New("create stdout pipe: EMFILE"),
			check: func(t *testing.T, raw map[string]any, rec exitcode.Record) {
				if rec.Outcome != exitcode.OutcomeSetupFailed || rec.Error != "create stdout pipe: EMFILE" {
					t.Errorf("outcome %q error %q", rec.Outcome, rec.Error)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.cfg.Timeout = tc.timeout
			h.io.stderr = tc.stderr
			before := time.Now()
			if tc.setup != nil {
				m := New(h.cfg, Parts{Log: h.log, IO: h.io, Watch: fakeWatch{h.rec}, Signals: h.signals})
				m.Run(h.script(tc.script), tc.setup)
			} else {
				h.run(h.script(tc.script))
			}
			raw, rec, ok := h.readRecord()
			if !ok {
				t.Fatal("no exit.json")
			}
			if rec.Version != exitcode.RecordVersion || rec.MonitorPeakRSS != 4242 {
				t.Errorf("version %d, peak RSS %d (the watcher's part missing?)", rec.Version, rec.MonitorPeakRSS)
			}
			if fin := time.Time(rec.FinishedAt); fin.Before(before) || fin.After(time.Now()) {
				t.Errorf("finished_at %v outside the test's run", fin)
			}
			tc.check(t, raw, rec)
		})
	}
}

// An exec session has no bundle of its own: no exit.json there.
func TestExitRecordNotInBundleWithoutOne(t *testing.T) {
	h := newHarness(t)
	h.cfg.ExitFiles.Bundle = ""
	h.run(h.script(`sh -c 'exit 0' & echo $! >"$PIDFILE"`))
	if _, _, ok := h.readRecord(); ok {
		t.Error("exit.json written without a bundle dir")
	}
	if got := h.exitFile(); got != "0" {
		t.Errorf("exit file %q", got)
	}
}
