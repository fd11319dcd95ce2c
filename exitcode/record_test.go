package exitcode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sampleRecord() Record {
	code := 137
	started := Timestamp(time.Date(2026, 12, 2, 7, 0, 0, 123456789, time.UTC))
	return Record{
		Outcome: OutcomeExited, ExitCode: &code, Signal: NewSignal(unix.SIGKILL),
		StartedAt: &started, FinishedAt: Timestamp(time.Date(2026, 12, 2, 7, 0, 1, 5, time.UTC)),
		Logs:           LogRecord{Stdout: StreamRecord{LoggedBytes: 10, LoggedLines: 2, DroppedBytes: 3, DroppedLines: 1}},
		MonitorPeakRSS: 4 << 20,
	}
}

func TestWriteRecord(t *testing.T) {
	bundle, persist := t.TempDir(), t.TempDir()
	// A symlink planted at exit.json is replaced, not written through.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(bundle, RecordName)); err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord()
	if err := (Files{Bundle: bundle, PersistDir: persist}).WriteRecord(rec); err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"outcome":"exited","exit_code":137,"signal":{"number":9,"name":"SIGKILL"},` +
		`"oom_killed":false,"timed_out":false,"started_at":"2026-12-02T07:00:00.123456789Z",` +
		`"finished_at":"2026-12-02T07:00:01.000000005Z","logs":{"stdout":{"logged_bytes":10,` +
		`"logged_lines":2,"dropped_bytes":3,"dropped_lines":1},"stderr":{"logged_bytes":0,` +
		`"logged_lines":0,"dropped_bytes":0,"dropped_lines":0}},"monitor_peak_rss_bytes":4194304}` + "\n"
	for _, dir := range []string{bundle, persist} {
		p := filepath.Join(dir, RecordName)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("%s:\n got %s, %v\nwant %s", p, b, err, want)
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != fileMode {
			t.Errorf("%s: %v, %v", p, fi.Mode(), err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%s holds %d entries (temporaries left?)", dir, len(entries))
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("symlink target overwritten: %q", b)
	}
}

func TestWriteRecordFailures(t *testing.T) {
	persist := t.TempDir()
	missing := filepath.Join(t.TempDir(), "gone")
	err := Files{Bundle: missing, PersistDir: persist}.WriteRecord(sampleRecord())
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v, want one naming %s", err, missing)
	}
	// The other dir still got its record.
	if _, err := os.Stat(filepath.Join(persist, RecordName)); err != nil {
		t.Error(err)
	}
	if err := (Files{}).WriteRecord(sampleRecord()); err != nil {
		t.Errorf("no dirs: %v", err)
	}
}

func FuzzRecordRoundTrip(f *testing.F) {
	f.Add("runc: boom \x00\"\\ \u2028", int64(1764658800123456789), -1, 9)
	f.Add("", int64(0), 0, 0)
	f.Fuzz(func(t *testing.T, msg string, ns int64, code, sig int) {
		rec := sampleRecord()
		rec.Error = strings.ToValidUTF8(msg, "\uFFFD")
		rec.ExitCode = &code
		rec.FinishedAt = Timestamp(time.Unix(0, ns).UTC())
		rec.Signal = nil
		if sig > 0 && sig < 65 {
			rec.Signal = NewSignal(unix.Signal(sig))
		}
		rec.Version = RecordVersion
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !time.Time(back.FinishedAt).Equal(time.Time(rec.FinishedAt)) {
			t.Fatalf("finished_at %v, want %v", time.Time(back.FinishedAt), time.Time(rec.FinishedAt))
		}
		back.FinishedAt, back.StartedAt = rec.FinishedAt, rec.StartedAt
		if !reflect.DeepEqual(back, rec) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", b, back, rec)
		}
	})
}
