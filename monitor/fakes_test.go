package monitor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/oci"
)

// TestMain: the exit command starts through the launcher, a re-exec of
// this binary; and the test process is a subreaper, as the daemon is, so
// the fake runtime's orphaned "container" becomes our child.
func TestMain(m *testing.M) {
	if oci.IsLauncher() {
		oci.RunLauncher()
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// scriptRuntime is a fake `runtime create`: a shell script that starts the
// "container" in the background, writes its pid to $PIDFILE and exits.
type scriptRuntime struct {
	script string
	env    []string
	pid    chan int
}

func (r *scriptRuntime) Spawn() (int, error) {
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	n := null.Fd()
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", r.script}, &syscall.ProcAttr{
		Env: r.env, Files: []uintptr{n, n, n},
	})
	if err == nil && r.pid != nil {
		r.pid <- pid
	}
	return pid, err
}

// failRuntime cannot even be spawned.
type failRuntime struct{}

func (failRuntime) Spawn() (int, error) { return 0, fmt.Errorf("start /no/runtime: %w", unix.ENOENT) }

// recorder notes the exit sequence's steps with what existed at that moment.
type recorder struct {
	mu    sync.Mutex
	steps []string
	exit  string // the exit file, to note whether it exists at each step
	json  string // exit.json, likewise
}

func (r *recorder) note(step string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range []struct{ path, mark string }{{r.json, "+json"}, {r.exit, "+exitfile"}} {
		if _, err := os.Stat(f.path); f.path != "" && err == nil {
			step += f.mark
		}
	}
	r.steps = append(r.steps, step)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.steps, " ")
}

// fakeIO stands in for package cio: it records what the lifecycle asks.
type fakeIO struct {
	rec    *recorder
	stderr string
}

func (f *fakeIO) RuntimeStderr() string                { return f.stderr }
func (f *fakeIO) HasConsole() bool                     { return false }
func (f *fakeIO) ReceiveConsole(d time.Duration) error { return nil }
func (f *fakeIO) StartOutput()                         { f.rec.note("start") }
func (f *fakeIO) StopOutput(drain, sync bool)          { f.rec.note(fmt.Sprintf("stop(drain=%v)", drain)) }
func (f *fakeIO) CloseAttach()                         { f.rec.note("close") }
func (f *fakeIO) Unlink()                              { f.rec.note("unlink") }
func (f *fakeIO) RemoveSymlink()                       { f.rec.note("symlink") }

// fakeWatch records the watcher's calls.
type fakeWatch struct{ rec *recorder }

func (w fakeWatch) Running(ctr int)   { w.rec.note("running") }
func (w fakeWatch) Final()            { w.rec.note("final") }
func (w fakeWatch) Exited(status int) { w.rec.note(fmt.Sprintf("exited(%d)", status)) }
func (w fakeWatch) Close()            { w.rec.note("watchclose") }

// Record marks what it adds, so tests see that the monitor wrote it.
func (w fakeWatch) Record(r *exitcode.Record) {
	w.rec.note("record")
	r.MonitorPeakRSS = 4242
}

// logger keeps the diagnostics.
type logger struct {
	mu    sync.Mutex
	lines []string
}

func (l *logger) add(kind, f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, kind+": "+fmt.Sprintf(f, a...))
}
func (l *logger) Errorf(f string, a ...any) { l.add("error", f, a...) }
func (l *logger) Warnf(f string, a ...any)  { l.add("warn", f, a...) }
func (l *logger) Debugf(f string, a ...any) { l.add("debug", f, a...) }
func (l *logger) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// harness is one monitor with a real sync pipe, real exit files and the
// fakes above.
type harness struct {
	t       *testing.T
	dir     string
	pidfile string
	exit    string
	rec     *recorder
	log     *logger
	syncR   *os.File
	signals chan os.Signal
	cfg     Config
	io      *fakeIO
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, pidfile: filepath.Join(dir, "pidfile"),
		exit: filepath.Join(dir, "exits", "ctr"), log: &logger{}, signals: make(chan os.Signal, 1)}
	if err := os.Mkdir(filepath.Join(dir, "exits"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.rec = &recorder{exit: h.exit, json: filepath.Join(dir, exitcode.RecordName)}
	h.io = &fakeIO{rec: h.rec}
	h.cfg = Config{ReportPid: true, PidFile: h.pidfile,
		ExitFiles: exitcode.Files{ExitDir: filepath.Join(dir, "exits"), Cid: "ctr", Bundle: dir}}
	return h
}

// run runs the monitor to the end with the given runtime.
func (h *harness) run(rt Runtime) (Outcome, int) {
	h.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	h.syncR = r
	h.t.Cleanup(func() { r.Close() })
	m := New(h.cfg, Parts{Log: h.log, Sync: oci.NewSyncPipe(w, oci.KeyFor(true, h.cfg.Exec)),
		IO: h.io, Watch: fakeWatch{h.rec}, Signals: h.signals})
	out, status := m.Run(rt, nil)
	// The exit command drops the subreaper flag (the daemon ends after
	// it); the next test's fake container must be our child again.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		h.t.Fatal(err)
	}
	if m.State() != Done {
		h.t.Errorf("state after Run: %s, want done", m.State())
	}
	w.Close()
	return out, status
}

// messages reads what the engine got on the sync pipe.
func (h *harness) messages() []string {
	h.t.Helper()
	var msgs []string
	sc := bufio.NewScanner(h.syncR)
	for sc.Scan() {
		msgs = append(msgs, sc.Text())
	}
	return msgs
}

// script makes a fake runtime running sh -c script with PIDFILE and DIR set.
func (h *harness) script(s string) *scriptRuntime {
	return &scriptRuntime{script: s, env: []string{"PATH=" + os.Getenv("PATH"),
		"PIDFILE=" + h.pidfile, "DIR=" + h.dir}}
}

func (h *harness) exitFile() string {
	h.t.Helper()
	b, err := os.ReadFile(h.exit)
	if os.IsNotExist(err) {
		return "<none>"
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}
