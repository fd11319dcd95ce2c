package integration

// Names the monitor creates in directories that others may write (issue 11,
// defect 1; docs/architecture.md "Files the monitor creates"): a symlink, a
// FIFO or a directory planted at each of them, before the monitor creates it
// or before it reuses it. The symlink's target (the victim) must keep its
// content, mode and mtime; the monitor must not block on the FIFO; and it
// must still record the exit code, unless the planted name makes it refuse
// to start, which it must then say clearly.

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// victim is a file outside every directory the monitor writes.
type victim struct {
	path  string
	mtime time.Time
}

const victimContent = "precious\n"

func newVictim(t *testing.T) victim {
	t.Helper()
	v := victim{path: filepath.Join(t.TempDir(), "victim"), mtime: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	if err := os.WriteFile(v.path, []byte(victimContent), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(v.path, v.mtime, v.mtime); err != nil {
		t.Fatal(err)
	}
	return v
}

// check fails if anything wrote to, truncated or chmodded the victim.
func (v victim) check(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(v.path)
	if err != nil || string(b) != victimContent {
		t.Errorf("victim %s holds %q (%v), want %q: written through the planted symlink", v.path, head(string(b), 200), err, victimContent)
	}
	fi, err := os.Stat(v.path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(v.mtime) || fi.Mode().Perm() != 0o600 {
		t.Errorf("victim %s: mtime %v mode %v, want %v and 0600", v.path, fi.ModTime(), fi.Mode(), v.mtime)
	}
}

// plantAt puts kind at name: a symlink to the victim, a FIFO, or a
// directory holding one file.
func plantAt(t *testing.T, kind, name string, v victim) {
	t.Helper()
	var err error
	switch kind {
	case "symlink":
		err = os.Symlink(v.path, name)
	case "fifo":
		err = syscall.Mkfifo(name, 0o666)
	case "dir":
		if err = os.Mkdir(name, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(name, "keep"), []byte(victimContent), 0o644)
		}
	}
	if err != nil {
		t.Fatalf("plant a %s at %s: %v", kind, name, err)
	}
}

// checkDirKept fails unless the planted directory is still at name with its
// file.
func checkDirKept(t *testing.T, name string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(name, "keep")); err != nil || string(b) != victimContent {
		t.Errorf("the directory planted at %s lost its file: %q %v", name, b, err)
	}
}

// isType fails unless path exists (not following a symlink) with type typ.
func isType(t *testing.T, path string, typ os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != typ {
		t.Errorf("%s: %v (%v), want type %v", path, fi, err, typ)
	}
}

// tickArgs prints "line N" every 100 ms until killed.
var tickArgs = []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.1; done"}

// plantRow is one name the monitor creates.
type plantRow struct {
	name  string
	kinds []string // default: symlink, fifo, dir
	opts  func(d plantDirs) monOpts
	path  func(r *monRun, d plantDirs) string
	// late: plant after the container started (a name the monitor creates
	// again later); otherwise before the monitor starts.
	late bool
	// refuse, per kind: the monitor fails to start with this text (first
	// process's stderr, or the sync message from the daemon).
	refuse map[string]string
	// firstFails, per kind: the first process exits 1 with this text, but
	// the daemon it started already runs the container (as with conmon).
	firstFails map[string]string
	// run drives the container to its end and checks the outcome; nil:
	// wait for the exit file "0".
	run func(t *testing.T, r *monRun, d plantDirs, kind string)
}

// plantDirs are the directories a row's options and names may use.
type plantDirs struct {
	Persist, Sockets, HostNotify string
}

func TestPlantedNames(t *testing.T) {
	headOnly(t, "conmon follows a symlink at the log's name, writes a FIFO there and blocks on it")
	tenLineArgs := func(extra ...string) func(plantDirs) monOpts {
		return func(plantDirs) monOpts { return monOpts{Args: tenLines, Extra: extra} }
	}
	echoHi := func(plantDirs) monOpts { return monOpts{Args: []string{"echo", "hi"}} }
	logPath := func(suffix string) func(*monRun, plantDirs) string {
		return func(r *monRun, _ plantDirs) string { return r.LogPath + suffix }
	}
	inBundle := func(name ...string) func(*monRun, plantDirs) string {
		return func(r *monRun, _ plantDirs) string { return filepath.Join(append([]string{r.Bundle}, name...)...) }
	}
	persistOpts := func(d plantDirs) monOpts {
		return monOpts{Args: []string{"echo", "hi"}, Extra: []string{"--persist-dir", d.Persist}}
	}
	persistExit := func(r *monRun, d plantDirs) string { return filepath.Join(d.Persist, "exit") }
	rows := []plantRow{
		{
			name: "log", path: logPath(""), opts: echoHi,
			refuse: map[string]string{
				"symlink": "Failed to open log file Too many levels of symbolic links",
				"fifo":    "Failed to open log file No such device or address",
				"dir":     "Failed to open log file Is a directory",
			},
		},
		{
			name: "log.tmp_ctl_reopen", path: logPath(".tmp"), late: true,
			opts: func(plantDirs) monOpts { return monOpts{Args: tickArgs} },
			run:  runCtlReopen,
		},
		{
			name: "log.tmp_size_max", path: logPath(".tmp"), opts: tenLineArgs("--log-size-max", "120"),
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				r.finish("0")
				if kind == "dir" { // every rollover failed: the one file holds all
					checkDirKept(t, r.LogPath+".tmp")
					logHolds(t, r.LogPath, tenLinesText()...)
					return
				}
				logHolds(t, r.LogPath, "line 9", "line 10")
			},
		},
		{
			name: "log.new_rotate", path: logPath(".new"), opts: tenLineArgs("--log-size-max", "120", "--log-rotate"),
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				r.finish("0")
				if kind == "dir" {
					checkDirKept(t, r.LogPath+".new")
					logHolds(t, r.LogPath, tenLinesText()...)
					return
				}
				logHolds(t, r.LogPath, "line 9", "line 10")
				logHolds(t, r.LogPath+".1", "line 7", "line 8")
			},
		},
		{
			// A directory at ".1" is moved to ".2" by the first rotation,
			// which writes nothing; only symlinks and FIFOs here.
			name: "log.1_rotate", path: logPath(".1"), kinds: []string{"symlink", "fifo"},
			opts: tenLineArgs("--log-size-max", "120", "--log-rotate"),
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				r.finish("0")
				logHolds(t, r.LogPath, "line 9", "line 10")
				logHolds(t, r.LogPath+".1", "line 7", "line 8")
				logHolds(t, r.LogPath+".2", "line 5", "line 6")
			},
		},
		{
			name: "exit_file", path: func(r *monRun, _ plantDirs) string { return r.exitFile() }, opts: persistOpts,
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				if kind != "dir" {
					waitRegular(t, r.exitFile(), "0")
					r.finish("0")
					return
				}
				// The exit-dir file cannot replace a directory; the
				// persist-dir one, written first, has the code.
				testutil.Eventually(t, 30*time.Second, "the persist-dir exit file", func() bool {
					b, _ := os.ReadFile(persistExit(r, d))
					return string(b) == "0"
				})
				waitGone(t, r.Daemon, 10*time.Second, "monitor")
				checkDirKept(t, r.exitFile())
			},
		},
		{
			name: "persist_exit_file", path: persistExit, opts: persistOpts,
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				if kind != "dir" {
					waitRegular(t, persistExit(r, d), "0")
					r.finish("0")
					return
				}
				// As conmon: the persist file failed, so the exit-dir file
				// is not written either (§11.1); the monitor still ends.
				waitGone(t, r.Daemon, 30*time.Second, "monitor")
				noFile(t, r.exitFile(), "the persist-dir exit file failed first")
				checkDirKept(t, persistExit(r, d))
			},
		},
		{
			name: "conmon_pidfile", path: inBundle("conmon.pid"), opts: echoHi,
			firstFails: map[string]string{"dir": "Failed to write conmon pidfile"},
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				// r.run read the daemon's pid from it already.
				isType(t, filepath.Join(r.Bundle, "conmon.pid"), 0)
				r.finish("0")
			},
		},
		{
			name: "attach_socket", path: inBundle("attach"), opts: echoHi,
			refuse: map[string]string{"dir": "Failed to remove existing socket"},
		},
		{
			name: "attach_symlink", path: func(r *monRun, d plantDirs) string { return filepath.Join(d.Sockets, r.ID) },
			opts: func(d plantDirs) monOpts {
				return monOpts{Args: tickArgs, SocketDir: d.Sockets}
			},
			refuse: map[string]string{"dir": "remove stale attach symlink"},
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				if target, err := os.Readlink(filepath.Join(d.Sockets, r.ID)); err != nil || target != r.Bundle {
					t.Errorf("socket-dir symlink -> %q (%v), want the bundle %s", target, err, r.Bundle)
				}
				killAndFinish(t, r)
			},
		},
		{
			name: "ctl", path: inBundle("ctl"), opts: echoHi,
			refuse: map[string]string{"dir": "create fifo"},
		},
		{
			name: "winsz", path: inBundle("winsz"), opts: echoHi,
			refuse: map[string]string{"dir": "create fifo"},
		},
		{
			// Failing to create the metrics socket is a warning (§16.1).
			name: "metrics_socket", path: inBundle("metrics.sock"),
			opts: func(plantDirs) monOpts { return monOpts{Args: tickArgs, Env: []string{"SHIM_METRICS=1"}} },
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				sock := filepath.Join(r.Bundle, "metrics.sock")
				if kind == "dir" {
					checkDirKept(t, sock)
				} else {
					isType(t, sock, os.ModeSocket)
				}
				killAndFinish(t, r)
			},
		},
		{
			name: "notify_socket", path: inBundle("notify", "notify.sock"),
			opts: func(d plantDirs) monOpts {
				return monOpts{Args: tickArgs, Extra: []string{"--sdnotify-socket", d.HostNotify}}
			},
			refuse: map[string]string{"dir": "Failed to bind to console-socket"},
			run: func(t *testing.T, r *monRun, d plantDirs, kind string) {
				sock := filepath.Join(r.Bundle, "notify", "notify.sock")
				isType(t, sock, os.ModeSocket)
				if got := fileMode(t, sock); got != 0o777 {
					t.Errorf("notify socket mode %04o, want 0777", got)
				}
				killAndFinish(t, r)
			},
		},
	}
	for _, row := range rows {
		kinds := row.kinds
		if kinds == nil {
			kinds = []string{"symlink", "fifo", "dir"}
		}
		for _, kind := range kinds {
			t.Run(row.name+"/"+kind, func(t *testing.T) { plantedRun(t, row, kind) })
		}
	}
}

// plantedRun runs one row of TestPlantedNames with one kind.
func plantedRun(t *testing.T, row plantRow, kind string) {
	v := newVictim(t)
	base := t.TempDir()
	d := plantDirs{Persist: filepath.Join(base, "persist"), Sockets: filepath.Join(base, "sockets"),
		HostNotify: filepath.Join(base, "host-notify.sock")}
	o := row.opts(d)
	o.Extra = append(o.Extra, "--syslog")
	records := listenSyslog(t)
	o.Before = func(r *monRun) {
		for _, dir := range []string{d.Persist, d.Sockets, filepath.Join(r.Bundle, "notify")} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if !row.late {
			plantAt(t, kind, row.path(r, d), v)
		}
	}
	r := startMon(t, o)
	if want, ok := row.refuse[kind]; ok {
		refused(t, r, records, want)
		v.check(t)
		if kind == "dir" {
			checkDirKept(t, row.path(r, d))
		}
		return
	}
	if want, ok := row.firstFails[kind]; ok {
		if code := r.waitProcess(10 * time.Second); code != 1 || !strings.Contains(r.Stderr.String(), want) {
			t.Fatalf("first process exited %d with stderr %q, want 1 and %q", code, r.Stderr.String(), want)
		}
		_, r.CtrPID, _ = r.syncMsg(30 * time.Second)
		st, err := readProcStat(r.CtrPID)
		if err != nil {
			t.Fatal(err)
		}
		r.Daemon = st.PPID // the container's parent: the monitor
		checkIsMonitor(t, r.Daemon)
		r.startCtr()
		r.finish("0")
		v.check(t)
		checkDirKept(t, row.path(r, d))
		return
	}
	r.run()
	if row.late {
		plantAt(t, kind, row.path(r, d), v)
	}
	if row.run != nil {
		row.run(t, r, d, kind)
	} else {
		r.finish("0")
	}
	v.check(t)
}

// refused checks that the monitor did not start, saying want: either the
// first process fails with it on stderr, or the daemon reports it on the
// sync pipe. Either way no monitor is left.
func refused(t *testing.T, r *monRun, records *syslogRecords, want string) {
	t.Helper()
	code := r.waitProcess(10 * time.Second) // also: not blocked on a FIFO
	if code != 0 {
		if !strings.Contains(r.Stderr.String(), want) {
			t.Fatalf("monitor exited %d with stderr %q, want it to say %q", code, r.Stderr.String(), want)
		}
		return
	}
	// The daemon fails after its stderr went to /dev/null: as conmon's, it
	// exits 1 without a sync message (the engine reads EOF) and says why
	// on syslog.
	r.Daemon = readExactInt(t, filepath.Join(r.Bundle, "conmon.pid"))
	waitGone(t, r.Daemon, 10*time.Second, "monitor that refused to start")
	buf := make([]byte, 8192)
	if err := r.sync.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.sync.Read(buf); err != io.EOF {
		t.Errorf("sync pipe: %q %v, want EOF", buf[:n], err)
	}
	testutil.Eventually(t, 5*time.Second, "syslog saying "+want, func() bool { return records.has(want) })
}

// waitRegular waits until path is a regular file (no longer what was
// planted) holding want.
func waitRegular(t *testing.T, path, want string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "a regular file at "+path, func() bool {
		fi, err := os.Lstat(path)
		return err == nil && fi.Mode().IsRegular()
	})
	if b, err := os.ReadFile(path); err != nil || string(b) != want {
		t.Errorf("%s holds %q (%v), want %q", path, b, err, want)
	}
}

// runCtlReopen renames the log away and asks for a reopen with a symlink,
// FIFO or directory at "<log>.tmp": the log is recreated (the planted name
// is cleared) or, for a directory, output goes on in the renamed file.
func runCtlReopen(t *testing.T, r *monRun, _ plantDirs, kind string) {
	r.waitLog("line 2\n", 10*time.Second)
	old := r.LogPath + ".old"
	if err := os.Rename(r.LogPath, old); err != nil {
		t.Fatal(err)
	}
	writeFIFO(t, filepath.Join(r.Bundle, "ctl"), "2 0 0\n")
	if kind == "dir" {
		n := lastNumber(fileTail(old, 200))
		testutil.Eventually(t, 10*time.Second, "more output in the renamed log", func() bool {
			return lastNumber(fileTail(old, 200)) >= n+5
		})
		noFile(t, r.LogPath, "the reopen cannot clear a directory at <log>.tmp")
		checkDirKept(t, r.LogPath+".tmp")
	} else {
		testutil.Eventually(t, 10*time.Second, "the log recreated", func() bool {
			fi, err := os.Lstat(r.LogPath)
			return err == nil && fi.Mode().IsRegular() && strings.Contains(fileTail(r.LogPath, 200), "line")
		})
	}
	killAndFinish(t, r)
}

func killAndFinish(t *testing.T, r *monRun) {
	t.Helper()
	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %d %s", code, out)
	}
	r.finish("137")
}

// tenLinesText is what tenLines prints, one string a line.
func tenLinesText() []string {
	var s []string
	for i := 1; i <= 10; i++ {
		s = append(s, "line "+strconv.Itoa(i))
	}
	return s
}
