package integration

// Tests that drive the monitor binary directly with runc (no podman).

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// finish checks what every normal exit must leave behind: the exit file with
// exactly want (decimal, no newline), the daemon gone promptly afterwards.
func (r *monRun) finish(want string) {
	r.t.Helper()
	if got := r.waitExit(30 * time.Second); got != want {
		r.t.Fatalf("exit file %s = %q, want %q", r.exitFile(), got, want)
	}
	if r.Daemon > 0 {
		waitGone(r.t, r.Daemon, 5*time.Second, "monitor after writing the exit file")
	}
}

func TestDirectExitCodes(t *testing.T) {
	t.Run("0", func(t *testing.T) {
		startMon(t, monOpts{Args: []string{"sh", "-c", "exit 0"}}).run().finish("0")
	})
	t.Run("3", func(t *testing.T) {
		startMon(t, monOpts{Args: []string{"sh", "-c", "exit 3"}}).run().finish("3")
	})
	t.Run("137_runc_kill", func(t *testing.T) {
		r := startMon(t, monOpts{Args: []string{"sleep", "1000"}}).run()
		t0 := time.Now()
		if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
			t.Fatalf("runc kill: %d %s", code, out)
		}
		r.finish("137")
		// conmon reacts to SIGCHLD at once (§11.1 "Latency": milliseconds).
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("exit file and monitor exit took %v after the kill, want well under 2s", d)
		}
	})
	t.Run("143_term_to_monitor", func(t *testing.T) {
		// No pid namespace: the process is not an init, so an unhandled SIGTERM
		// kills it and the status is a real signal death (128+15).
		r := startMon(t, monOpts{NoPidNS: true, Args: []string{"sh", "-c", "echo ready; exec sleep 1000"}}).run()
		r.waitLog("ready", 10*time.Second)
		if err := syscall.Kill(r.Daemon, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		r.finish("143")
	})
	t.Run("term_to_monitor_reaches_pid1_handler", func(t *testing.T) {
		// As PID 1 of its namespace the container only sees signals it handles.
		r := startMon(t, monOpts{Args: []string{"sh", "-c", `trap "exit 42" TERM; echo ready; sleep 1000 & wait`}}).run()
		r.waitLog("ready", 10*time.Second)
		if err := syscall.Kill(r.Daemon, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		r.finish("42")
	})
}

// childrenOf lists the pids whose parent is pid.
func childrenOf(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readProcStat(n); err == nil && st.PPID == pid {
			kids = append(kids, n)
		}
	}
	return kids
}

func TestDirectStartPipeGatesChildren(t *testing.T) {
	r := startMon(t, monOpts{Args: []string{"true"}, Hold: true})
	time.Sleep(300 * time.Millisecond)
	// Nothing may be forked before the engine's start byte (cgroup placement).
	if kids := childrenOf(r.cmd.Process.Pid); len(kids) > 0 {
		t.Fatalf("monitor created children %v before the start byte", kids)
	}
	if _, err := os.Stat(filepath.Join(r.Bundle, "conmon.pid")); err == nil {
		t.Fatal("conmon pidfile written before the start byte")
	}
	select {
	case err := <-r.waitCh:
		t.Fatalf("first process exited (%v) before the start byte", err)
	default:
	}
	r.sendStart()
	r.run().finish("0")
}

func TestDirectDaemon(t *testing.T) {
	r := startMon(t, monOpts{Args: []string{"sleep", "1000"}})
	first := r.cmd.Process.Pid
	r.created() // the first process exited 0 and let go of its stdout/stderr
	if got := r.Stdout.String(); got != "" {
		t.Errorf("first process wrote %q on stdout, want nothing", got)
	}

	// The conmon pidfile holds the daemon's pid, no newline, and it is alive.
	if r.Daemon == first {
		t.Fatalf("conmon pidfile holds the first process's pid %d, want the daemon's", first)
	}
	checkIsMonitor(t, r.Daemon)
	st, err := readProcStat(r.Daemon)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID == first || st.PPID == os.Getpid() {
		t.Errorf("daemon's parent is %d, want it reparented (1 or a subreaper)", st.PPID)
	}
	if st.Session != r.Daemon {
		t.Errorf("daemon's session is %d, want its own (setsid)", st.Session)
	}
	for fd := 0; fd <= 2; fd++ {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", r.Daemon, fd)); l != "/dev/null" {
			t.Errorf("daemon fd %d -> %q, want /dev/null", fd, l)
		}
	}
	// Attach socket and FIFOs exist before the pid is reported (§8, §9).
	for name, typ := range map[string]os.FileMode{"attach": os.ModeSocket, "ctl": os.ModeNamedPipe, "winsz": os.ModeNamedPipe} {
		fi, err := os.Stat(filepath.Join(r.Bundle, name))
		if err != nil || fi.Mode().Type() != typ {
			t.Errorf("%s in the bundle: %v, mode %v; want type %v", name, err, fi, typ)
		}
	}
	// The container pid is the runtime's pidfile, and the daemon is its parent
	// (subreaper) once `runtime create` has exited.
	if pf := readExactIntLoose(t, filepath.Join(r.Bundle, "pidfile")); pf != r.CtrPID {
		t.Errorf("sync pid %d, runtime pidfile %d", r.CtrPID, pf)
	}
	if cst, err := readProcStat(r.CtrPID); err != nil || cst.PPID != r.Daemon {
		t.Errorf("container pid %d: parent %d (%v), want the monitor %d", r.CtrPID, cst.PPID, err, r.Daemon)
	}

	r.startCtr()
	time.Sleep(200 * time.Millisecond)
	if !alive(r.Daemon) {
		t.Fatal("daemon died while the container runs")
	}
	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %d %s", code, out)
	}
	r.finish("137")
	if _, err := os.Stat(filepath.Join(r.Bundle, "attach")); !os.IsNotExist(err) {
		t.Errorf("attach socket still there after exit: %v", err)
	}
}

// readExactIntLoose reads a pidfile written by the runtime (no format promise).
func readExactIntLoose(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func TestDirectLogFormat(t *testing.T) {
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "echo out; printf partial; sleep 0.3; echo err >&2; sleep 0.3; echo; printf 'a\\nb\\n'"}}).run()
	r.finish("0")
	got := short(parseLog(t, r.LogPath))
	want := []string{"stdout F out\n", "stdout P partial\n", "stderr F err\n", "stdout F \n", "stdout F a\n", "stdout F b\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("log entries:\n%q\nwant:\n%q", got, want)
	}
}

func TestDirectLongLine(t *testing.T) {
	const size = 1 << 20
	r := startMon(t, monOpts{Args: []string{"sh", "-c", fmt.Sprintf(`head -c %d /dev/zero | tr '\000' a`, size)}}).run()
	r.finish("0")
	var sb strings.Builder
	entries := parseLog(t, r.LogPath)
	for i, e := range entries {
		if e.Stream != "stdout" || e.Tag != "P" {
			t.Fatalf("entry %d is %s %s, want stdout P (a line without newline)", i, e.Stream, e.Tag)
		}
		if len(e.Content) > 8192 {
			t.Fatalf("entry %d holds %d bytes, want ≤ 8192 per read (§10.2)", i, len(e.Content))
		}
		sb.WriteString(e.Content)
	}
	if s := sb.String(); s != strings.Repeat("a", size) {
		t.Fatalf("P pieces concatenate to %d bytes (%q...), want %d bytes of 'a'", len(s), head(s, 20), size)
	}
}

func TestDirectCreateFailure(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			r := startMon(t, monOpts{NoConfig: true, Legacy: legacy})
			r.firstExit()
			key, val, msg := r.syncMsg(30 * time.Second)
			wantKey := "data"
			if legacy {
				wantKey = "pid"
			}
			if key != wantKey || val != -1 {
				t.Fatalf("sync message %s=%d, want %s=-1", key, val, wantKey)
			}
			if !strings.Contains(msg, "config.json") {
				t.Errorf("sync message text %q does not relay the runtime's error about config.json", msg)
			}
			waitGone(t, r.Daemon, 10*time.Second, "monitor after a failed create")
			if _, err := os.Stat(r.exitFile()); !os.IsNotExist(err) {
				t.Errorf("exit file after a failed create: %v", err)
			}
		})
	}
}

func TestDirectLegacyPidKey(t *testing.T) {
	r := startMon(t, monOpts{Legacy: true, Args: []string{"true"}})
	r.firstExit()
	key, val, _ := r.syncMsg(30 * time.Second)
	if key != "pid" || val <= 0 {
		t.Fatalf("sync message %s=%d, want pid=<container pid> without --api-version", key, val)
	}
	r.startCtr()
	r.finish("0")
}

func TestDirectSyncMode(t *testing.T) {
	r := startMon(t, monOpts{Sync: true, Args: []string{"sh", "-c", "sleep 0.2; exit 3"}})
	r.created()
	if !alive(r.cmd.Process.Pid) {
		t.Fatal("--sync monitor exited before the container started")
	}
	r.startCtr()
	if code := r.waitProcess(30 * time.Second); code != 3 {
		t.Fatalf("--sync monitor exited %d, want the container's status 3", code)
	}
	if got := r.waitExit(5 * time.Second); got != "3" {
		t.Errorf("exit file %q, want \"3\"", got)
	}
	if _, err := os.Stat(filepath.Join(r.Bundle, "conmon.pid")); !os.IsNotExist(err) {
		t.Errorf("--conmon-pidfile written in --sync mode: %v", err)
	}
}

func TestDirectPreservedFD(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	r := startMon(t, monOpts{Preserve: []*os.File{pw}, Args: []string{"sh", "-c", "echo via-fd3 >&3"}})
	pw.Close()
	r.run().finish("0")
	// The daemon closes inherited fds before it exits, so EOF arrives.
	done := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(pr); done <- b }()
	select {
	case b := <-done:
		if string(b) != "via-fd3\n" {
			t.Fatalf("preserved fd 3 carried %q, want %q", b, "via-fd3\n")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EOF on the preserved fd: someone still holds its write end")
	}
}

func TestDirectFileModes(t *testing.T) {
	headOnly(t, "HEAD forces umask 022 and creates the log 0640; 2.1.6 inherits the umask and uses 0600")
	r := startMon(t, monOpts{Umask: "077", Args: []string{"true"}}).run()
	r.finish("0")
	for path, want := range map[string]os.FileMode{
		r.LogPath:                             0o640,
		r.exitFile():                          0o644,
		filepath.Join(r.Bundle, "conmon.pid"): 0o644,
		filepath.Join(r.Bundle, "ctl"):        0o640,
		filepath.Join(r.Bundle, "winsz"):      0o640,
	} {
		if got := fileMode(t, path); got != want {
			t.Errorf("%s: mode %04o, want %04o", path, got, want)
		}
	}
}

// Before the runtime is started a SIGTERM ends the monitor at once with
// status 1 (§3.1 step 2, §3.2): nothing forked, no pidfile, no exit file.
func TestDirectTermBeforeStart(t *testing.T) {
	r := startMon(t, monOpts{Args: []string{"true"}, Hold: true})
	// Let it reach the blocking read of the start pipe.
	time.Sleep(300 * time.Millisecond)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.waitProcess(10 * time.Second); code != 1 {
		t.Fatalf("monitor exited %d after SIGTERM before the start byte, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(r.Bundle, "conmon.pid")); err == nil {
		t.Error("conmon pidfile written although the monitor was terminated before starting")
	}
	if _, err := os.Stat(r.exitFile()); err == nil {
		t.Error("exit file written although no container was created")
	}
}
