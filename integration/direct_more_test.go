package integration

// More direct (runc, no podman) tests: --timeout, log reopen over the ctl
// FIFO, --log-size-max, the -l drivers, --persist-dir, signal forwarding and
// the exit of a container whose output pipe outlives it. The exit command is
// in direct_exitcmd_test.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

func TestDirectTimeout(t *testing.T) {
	for _, flag := range []string{"--timeout", "-T"} {
		t.Run(flag, func(t *testing.T) {
			r := startMon(t, monOpts{Sync: true, Args: []string{"sleep", "100"}, Extra: []string{flag, "2"}})
			r.run()
			t0 := time.Now()
			if got := r.waitExit(30 * time.Second); got != "-1" {
				t.Fatalf("exit file %q, want \"-1\" after the timeout", got)
			}
			if d := time.Since(t0); d < 1500*time.Millisecond {
				t.Errorf("exit file written %v after the container started, want the 2 s timeout first", d)
			}
			if code := r.waitProcess(10 * time.Second); code != 255 {
				t.Errorf("--sync monitor exited %d, want 255 (-1)", code)
			}
			waitGone(t, r.CtrPID, 10*time.Second, "container after the timeout")
		})
	}
}

// TestDirectCtlReopen: ctl type 2 recreates a log renamed away at once, as
// kubelet's rotation expects (§9, §10.5).
func TestDirectCtlReopen(t *testing.T) {
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done"}}).run()
	r.waitLog("tick 2\n", 10*time.Second)
	ctl := filepath.Join(r.Bundle, "ctl")
	writeCtl := func(msg string) {
		t.Helper()
		f, err := os.OpenFile(ctl, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(msg); err != nil {
			t.Fatal(err)
		}
	}
	lastTick := func(path string) int {
		entries := parseLog(t, path)
		n := 0
		for _, e := range entries {
			fmt.Sscanf(e.Content, "tick %d", &n)
		}
		return n
	}

	old := r.LogPath + ".1"
	if err := os.Rename(r.LogPath, old); err != nil {
		t.Fatal(err)
	}
	writeCtl("2 0 0\n")
	testutil.Eventually(t, 5*time.Second, "the log file recreated after ctl \"2 0 0\"", func() bool {
		_, err := os.Stat(r.LogPath)
		return err == nil
	})
	r.waitLog("tick", 10*time.Second)
	before := lastTick(old)
	if after := lastTick(r.LogPath); after <= before {
		t.Errorf("new log ends at tick %d, the renamed one at %d: output did not move to the new file", after, before)
	}
	if !isRef { // 2.1.6 creates logs 0600
		if got := fileMode(t, r.LogPath); got != 0o640 {
			t.Errorf("reopened log has mode %04o, want 0640", got)
		}
	}

	t.Run("bad_size_no_reopen", func(t *testing.T) {
		headOnly(t, "2.1.6 has no range check on ctl sizes")
		old2 := r.LogPath + ".2"
		if err := os.Rename(r.LogPath, old2); err != nil {
			t.Fatal(err)
		}
		writeCtl("2 -1 0\n")
		// Output keeps going to the renamed file; give the ctl reader ample
		// time (several ticks) to act wrongly.
		n := lastTick(old2)
		testutil.Eventually(t, 10*time.Second, "more output in the renamed log", func() bool { return lastTick(old2) >= n+5 })
		if _, err := os.Stat(r.LogPath); !os.IsNotExist(err) {
			t.Fatalf("ctl \"2 -1 0\" reopened the log (stat: %v); it must be rejected", err)
		}
		// A valid message afterwards still works.
		writeCtl("2 0 0\n")
		testutil.Eventually(t, 5*time.Second, "the log file recreated after a valid ctl \"2 0 0\"", func() bool {
			_, err := os.Stat(r.LogPath)
			return err == nil
		})
	})

	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %d %s", code, out)
	}
	r.finish("137")
}

func TestDirectLogSizeMax(t *testing.T) {
	for _, tc := range []struct {
		max  string
		want []string
	}{
		// Every entry is bigger than 10 bytes: each replaces the previous.
		{"10", []string{"stdout F line 10\n"}},
		// 52- and 53-byte entries: two fit in 120.
		{"120", []string{"stdout F line 9\n", "stdout F line 10\n"}},
	} {
		t.Run(tc.max, func(t *testing.T) {
			r := startMon(t, monOpts{
				Args:  []string{"sh", "-c", "i=1; while [ $i -le 10 ]; do echo line $i; i=$((i+1)); done"},
				Extra: []string{"--log-size-max", tc.max},
			}).run()
			r.finish("0")
			if got := short(parseLog(t, r.LogPath)); strings.Join(got, "") != strings.Join(tc.want, "") {
				t.Fatalf("log holds %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("existing_file_counts", func(t *testing.T) {
		headOnly(t, "2.1.6 starts the size counter at 0, HEAD at the file's size")
		// 100 bytes already there + a 48-byte entry > 120: truncate first.
		log := filepath.Join(t.TempDir(), "ctr.log")
		old := "2020-01-01T00:00:00.000000000+00:00 stdout F old1\n2020-01-01T00:00:00.000000000+00:00 stdout F old2\n"
		if err := os.WriteFile(log, []byte(old), 0o640); err != nil {
			t.Fatal(err)
		}
		r := startMon(t, monOpts{LogArgs: []string{"-l", "k8s-file:" + log}, Args: []string{"echo", "hi"},
			Extra: []string{"--log-size-max", "120"}})
		r.LogPath = log
		r.run().finish("0")
		if got := short(parseLog(t, log)); strings.Join(got, "") != "stdout F hi\n" {
			t.Fatalf("log holds %q, want only the new entry (the old 100 bytes count towards the limit)", got)
		}
	})
}

// noFile fails if path exists.
func noFile(t *testing.T, path, why string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s exists (%v): %s", path, err, why)
	}
}

func TestDirectLogDrivers(t *testing.T) {
	for _, drv := range []string{"none", "off", "null"} {
		t.Run(drv, func(t *testing.T) {
			r := startMon(t, monOpts{LogArgs: []string{"-l", drv}, Args: []string{"sh", "-c", "echo hello; exit 4"}}).run()
			r.finish("4")
			ents, err := os.ReadDir(r.Bundle)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Type().IsRegular() && (strings.Contains(e.Name(), "log") || e.Name() == drv) {
					t.Errorf("-l %s created %s in the bundle", drv, e.Name())
				}
			}
		})
	}
	t.Run("last_k8s_path_wins", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
		r := startMon(t, monOpts{LogArgs: []string{"-l", "k8s-file:" + a, "-l", "k8s-file:" + b}, Args: []string{"echo", "hello"}})
		r.LogPath = b
		r.run().finish("0")
		if got := short(parseLog(t, b)); strings.Join(got, "") != "stdout F hello\n" {
			t.Errorf("%s holds %q, want the container's line", b, got)
		}
		noFile(t, a, "with several k8s-file values the last path wins (§10.1)")
	})
	t.Run("none_then_k8s_file", func(t *testing.T) {
		a := filepath.Join(t.TempDir(), "a.log")
		r := startMon(t, monOpts{LogArgs: []string{"-l", "none", "-l", "k8s-file:" + a}, Args: []string{"echo", "hello"}})
		r.LogPath = a
		r.run().finish("0")
		if got := short(parseLog(t, a)); strings.Join(got, "") != "stdout F hello\n" {
			t.Errorf("%s holds %q, want the container's line", a, got)
		}
	})
	t.Run("passthrough", func(t *testing.T) {
		out, err := os.Create(filepath.Join(t.TempDir(), "monitor-stdout"))
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		errf, err := os.Create(filepath.Join(t.TempDir(), "monitor-stderr"))
		if err != nil {
			t.Fatal(err)
		}
		defer errf.Close()
		r := startMon(t, monOpts{LogArgs: []string{"-l", "passthrough"}, Stdout: out, Stderr: errf,
			Args: []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2; sleep 1000"}}).run()
		testutil.Eventually(t, 10*time.Second, "container output in the monitor's stdout and stderr", func() bool {
			a, _ := os.ReadFile(out.Name())
			b, _ := os.ReadFile(errf.Name())
			return strings.Contains(string(a), "to-stdout") && strings.Contains(string(b), "to-stderr")
		})
		// The container holds the very files we gave the monitor.
		for fd, want := range map[int]string{1: out.Name(), 2: errf.Name()} {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", r.CtrPID, fd)); l != want {
				t.Errorf("container fd %d -> %q, want the monitor's own %s", fd, l, want)
			}
		}
		if a, _ := os.ReadFile(out.Name()); string(a) != "to-stdout\n" {
			t.Errorf("monitor stdout holds %q, want exactly the container's %q", a, "to-stdout\n")
		}
		for _, name := range []string{"attach", "ctl", "winsz"} {
			noFile(t, filepath.Join(r.Bundle, name), "passthrough has no attach socket or FIFOs (§10.7)")
		}
		noFile(t, r.LogPath, "passthrough writes no log")
		if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
			t.Fatalf("runc kill: %d %s", code, out)
		}
		r.finish("137")
	})
}

func TestDirectPersistDir(t *testing.T) {
	persist := t.TempDir()
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "exit 3"}, Extra: []string{"--persist-dir", persist}}).run()
	r.finish("3")
	for _, p := range []string{filepath.Join(persist, "exit"), r.exitFile()} {
		if n := readExactInt(t, p); n != 3 {
			t.Errorf("%s = %d, want 3", p, n)
		}
		if got := fileMode(t, p); got != 0o644 {
			t.Errorf("%s: mode %04o, want 0644", p, got)
		}
	}
}

// TestDirectSignalsForwarded: SIGINT and SIGQUIT, like SIGTERM, go to the
// container (§3.2) and the monitor lives on until it exits.
func TestDirectSignalsForwarded(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code string
	}{{syscall.SIGINT, "INT", "41"}, {syscall.SIGQUIT, "QUIT", "42"}} {
		t.Run(tc.name+"_to_pid1_handler", func(t *testing.T) {
			// Each signal has its own exit code: the very signal sent arrived.
			r := startMon(t, monOpts{Args: []string{"sh", "-c",
				`trap "exit 41" INT; trap "exit 42" QUIT; echo ready; sleep 1000 & wait`}}).run()
			r.waitLog("ready", 10*time.Second)
			if err := syscall.Kill(r.Daemon, tc.sig); err != nil {
				t.Fatal(err)
			}
			r.finish(tc.code)
		})
	}
	t.Run("INT_kills_130", func(t *testing.T) {
		r := startMon(t, monOpts{NoPidNS: true, Args: []string{"sh", "-c", "echo ready; exec sleep 1000"}}).run()
		r.waitLog("ready", 10*time.Second)
		if err := syscall.Kill(r.Daemon, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		r.finish("130")
	})
}

// TestDirectPipeHolderNotAwaited: a child of the container that keeps its
// stdout open must not delay the exit file (§11.1 step 2).
func TestDirectPipeHolderNotAwaited(t *testing.T) {
	// Host pid namespace: otherwise the holder dies with the container's init.
	r := startMon(t, monOpts{NoPidNS: true, Args: []string{"sh", "-c", "sleep 30 & echo holder $!; echo done"}}).run()
	r.waitLog("done\n", 10*time.Second)
	t0 := time.Now()
	var holder int
	for _, e := range parseLog(t, r.LogPath) {
		fmt.Sscanf(e.Content, "holder %d", &holder)
	}
	if holder <= 0 {
		t.Fatal("the container did not report its background child's pid")
	}
	t.Cleanup(func() {
		// Our own grandchild (started by the container above); stop it.
		if alive(holder) && strings.HasSuffix(exeOf(holder), "busybox") {
			syscall.Kill(holder, syscall.SIGKILL)
		}
	})
	if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", holder)); !strings.HasPrefix(l, "pipe:") {
		t.Fatalf("the background child's stdout is %q, not the container's stdout pipe: the test proves nothing", l)
	}
	got := r.waitExit(30 * time.Second)
	d := time.Since(t0)
	if got != "0" {
		t.Errorf("exit file %q, want \"0\"", got)
	}
	if !alive(holder) {
		t.Fatal("the background child is gone already: the test proves nothing")
	}
	t.Logf("exit file written %v after the container's last output was seen", d)
	if d > 5*time.Second {
		t.Errorf("exit file written %v after the container's output ended: the monitor waited for the pipe holder", d)
	}
	waitGone(t, r.Daemon, 5*time.Second, "monitor while a child of the container still holds its stdout")
}

// A child that outlives the container and writes faster than the monitor
// can log must not keep the monitor draining forever (§11.1 "Latency"): the
// exit file comes within the drain bound. journald is the slow driver here
// (a few MiB/s), so `yes` keeps the pipe from ever running empty.
func TestDirectBusyWriterNotAwaited(t *testing.T) {
	ensureJournald(t)
	t0 := time.Now()
	r := startMon(t, monOpts{NoPidNS: true, LogArgs: []string{"-l", "journald"},
		Args: []string{"sh", "-c", "yes spam & echo writer $!; sleep 1"}}).run()
	got := r.waitExit(30 * time.Second)
	d := time.Since(t0)
	if got != "0" {
		t.Errorf("exit file %q, want \"0\"", got)
	}
	t.Logf("exit file written %v after the monitor started (the container lives 1 s)", d)
	if d > 11*time.Second {
		t.Errorf("exit file written %v after the container ended: the drain waited for a busy writer", d)
	}
}
