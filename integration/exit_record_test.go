package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// exitRecord is exit.json (docs/interface.md §16.3), decoded loosely so
// that a missing field shows as absent.
type exitRecord struct {
	Version  int    `json:"version"`
	Outcome  string `json:"outcome"`
	ExitCode *int   `json:"exit_code"`
	Signal   *struct {
		Number int    `json:"number"`
		Name   string `json:"name"`
	} `json:"signal"`
	OOMKilled  bool    `json:"oom_killed"`
	TimedOut   bool    `json:"timed_out"`
	Error      string  `json:"error"`
	StartedAt  *string `json:"started_at"`
	FinishedAt string  `json:"finished_at"`
	Logs       map[string]struct {
		LoggedBytes  uint64 `json:"logged_bytes"`
		LoggedLines  uint64 `json:"logged_lines"`
		DroppedBytes uint64 `json:"dropped_bytes"`
		DroppedLines uint64 `json:"dropped_lines"`
	} `json:"logs"`
	PeakRSS uint64 `json:"monitor_peak_rss_bytes"`
}

// extension skips a test of a shim extension (§16) when the binary is conmon.
func extension(t *testing.T) {
	t.Helper()
	if isRef {
		t.Skip("a shim extension (docs/interface.md §16): conmon has none")
	}
}

func readExitRecord(t *testing.T, dir string) exitRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "exit.json"))
	if err != nil {
		t.Fatalf("exit record: %v", err)
	}
	var rec exitRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("exit record %q: %v", b, err)
	}
	if rec.Version != 1 || rec.FinishedAt == "" || rec.PeakRSS == 0 {
		t.Errorf("exit record %s: version, finished_at or peak RSS missing", b)
	}
	if _, err := time.Parse(time.RFC3339Nano, rec.FinishedAt); err != nil {
		t.Errorf("finished_at: %v", err)
	}
	return rec
}

func TestExitRecordDirect(t *testing.T) {
	extension(t)
	t.Run("exit 3 with output", func(t *testing.T) {
		persist := t.TempDir()
		r := startMon(t, monOpts{
			Args:  []string{"sh", "-c", "echo one; echo two; echo err >&2; printf partial; exit 3"},
			Extra: []string{"--persist-dir", persist},
		}).run()
		r.finish("3")
		rec := readExitRecord(t, r.Bundle)
		if rec.Outcome != "exited" || rec.ExitCode == nil || *rec.ExitCode != 3 || rec.Signal != nil ||
			rec.OOMKilled || rec.TimedOut || rec.Error != "" {
			t.Errorf("record %+v", rec)
		}
		if rec.StartedAt == nil || *rec.StartedAt > rec.FinishedAt {
			t.Errorf("started_at %v, finished_at %s", rec.StartedAt, rec.FinishedAt)
		}
		out, errs := rec.Logs["stdout"], rec.Logs["stderr"]
		if out.LoggedBytes != uint64(len("one\ntwo\npartial")) || out.LoggedLines != 2 ||
			errs.LoggedBytes != 4 || errs.LoggedLines != 1 {
			t.Errorf("logs %+v", rec.Logs)
		}
		// The persist dir's copy is the same record; the legacy files are
		// unchanged.
		a, _ := os.ReadFile(filepath.Join(r.Bundle, "exit.json"))
		b, _ := os.ReadFile(filepath.Join(persist, "exit.json"))
		if string(a) != string(b) {
			t.Errorf("bundle and persist-dir records differ:\n%s\n%s", a, b)
		}
		if b, err := os.ReadFile(filepath.Join(persist, "exit")); err != nil || string(b) != "3" {
			t.Errorf("persist exit file %q, %v", b, err)
		}
		if fileMode(t, filepath.Join(r.Bundle, "exit.json")) != 0o644 {
			t.Errorf("exit.json mode %v", fileMode(t, filepath.Join(r.Bundle, "exit.json")))
		}
	})
	t.Run("SIGKILL", func(t *testing.T) {
		r := startMon(t, monOpts{Args: []string{"sleep", "1000"}}).run()
		if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
			t.Fatalf("runc kill: %d %s", code, out)
		}
		r.finish("137")
		rec := readExitRecord(t, r.Bundle)
		if rec.ExitCode == nil || *rec.ExitCode != 137 || rec.Signal == nil ||
			rec.Signal.Number != 9 || rec.Signal.Name != "SIGKILL" {
			t.Errorf("record %+v signal %+v", rec, rec.Signal)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := startMon(t, monOpts{Args: []string{"sleep", "1000"}, Extra: []string{"--timeout", "1"}}).run()
		r.finish("-1")
		rec := readExitRecord(t, r.Bundle)
		if rec.Outcome != "timed_out" || !rec.TimedOut || rec.ExitCode == nil || *rec.ExitCode != -1 {
			t.Errorf("record %+v", rec)
		}
	})
	t.Run("create failure", func(t *testing.T) {
		r := startMon(t, monOpts{NoConfig: true})
		r.firstExit()
		_, _, msg := r.syncMsg(30 * time.Second)
		waitGone(t, r.Daemon, 10*time.Second, "monitor after a failed create")
		rec := readExitRecord(t, r.Bundle)
		if rec.Outcome != "create_failed" || rec.ExitCode != nil || rec.StartedAt != nil ||
			rec.Error != msg || !strings.Contains(rec.Error, "config.json") {
			t.Errorf("record %+v; the engine was told %q", rec, msg)
		}
		if _, err := os.Stat(r.exitFile()); !os.IsNotExist(err) {
			t.Errorf("exit file after a failed create: %v", err)
		}
	})
}

// Through podman: the record sits in the container's bundle and agrees with
// what podman reports, root and rootless; podman's own view is unchanged.
func TestPodmanExitRecord(t *testing.T) {
	extension(t)
	forEachUser(t, func(t *testing.T, p *podman) {
		name := p.runD(t, nil, "sh", "-c", "echo hello; exit 5")
		if code := p.waitExitCode(t, name); code != 5 {
			t.Fatalf("podman wait: %d, want 5", code)
		}
		in := p.inspect(t, name)
		if in.State.ExitCode != 5 || in.State.OOMKilled {
			t.Errorf("podman inspect state %+v", in.State)
		}
		var rec exitRecord
		testutil.Eventually(t, 10*time.Second, "exit.json in "+in.StaticDir, func() bool {
			_, err := os.Stat(filepath.Join(in.StaticDir, "exit.json"))
			return err == nil
		})
		rec = readExitRecord(t, in.StaticDir)
		if rec.Outcome != "exited" || rec.ExitCode == nil || *rec.ExitCode != 5 || rec.OOMKilled {
			t.Errorf("record %+v", rec)
		}
		if out := rec.Logs["stdout"]; out.LoggedBytes != 6 || out.LoggedLines != 1 {
			t.Errorf("logs %+v", rec.Logs)
		}
	})
}
