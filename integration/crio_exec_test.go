package integration

// CRI-O's ExecSync (§5.2, §6.1, §11.5): `monitor -e --sync` without -u, -b
// or --api-version; the sync channel is an os.Pipe, the output goes to the
// -l log file (a bare path: k8s-file).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execSyncResult is what CRI-O gets back from one ExecSync.
type execSyncResult struct {
	Status  int    // the --sync monitor's exit status
	Sync    string // everything written to the sync pipe
	Elapsed time.Duration
	LogPath string
}

// execSync runs `monitor -e --sync` on c's container with CRI-O's ExecSync
// argv (§6.1): no -u, no -b, no --api-version; the sync channel is an
// os.Pipe, stdout/stderr are pipes the caller waits on.
func (c *crio) execSync(t *testing.T, args []string, extra ...string) execSyncResult {
	t.Helper()
	dir := t.TempDir()
	spec := filepath.Join(dir, "process.json")
	writeProcessSpec(t, spec, args, slices.Contains(extra, "-t"))
	res := execSyncResult{LogPath: filepath.Join(dir, "exec.log")}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer syncR.Close()
	start, theirStart := streamPair(t)
	defer start.Close()
	argv := append([]string{"-c", c.ID, "-n", "k8s_" + c.ID[len(c.ID)-6:], "-r", runcBin,
		"-p", filepath.Join(dir, "exec-pid"), "-e", "-l", res.LogPath,
		"--socket-dir-path", c.SocketDir, "--log-level", "debug", "--sync"}, extra...)
	argv = append(argv, "--exec-process-spec", spec, "--runtime-arg", "--root="+c.RuncRoot)
	cmd := exec.Command(shimBin, argv...)
	cmd.Env = append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4")
	cmd.ExtraFiles = []*os.File{syncW, theirStart}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	syncW.Close()
	theirStart.Close()
	start.Write([]byte{0})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ExecSync monitor still running (or holding its stdout/stderr) after 60s")
	}
	res.Elapsed = time.Since(t0)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	res.Status = cmd.ProcessState.ExitCode()
	b := make([]byte, 65536)
	n, _ := syncR.Read(b)
	res.Sync = string(b[:n])
	if t.Failed() || stdout.Len() > 0 {
		t.Logf("ExecSync monitor stdout %q stderr %q", stdout.String(), stderr.String())
	}
	return res
}

// TestCrioExecSync: CRI-O's ExecSync (legacy exec, --sync).
func TestCrioExecSync(t *testing.T) {
	c := startCrio(t, crioOpts{Args: []string{"sleep", "1000"}}).created()
	c.runc("start", c.ID)

	t.Run("exit_code", func(t *testing.T) {
		r := c.execSync(t, []string{"sh", "-c", "echo out; echo err >&2; printf partial; exit 3"})
		if r.Sync != `{"exit_code": 3}`+"\n" || r.Status != 3 {
			t.Fatalf("sync pipe %q, status %d; want {\"exit_code\": 3} and status 3", r.Sync, r.Status)
		}
		out, errs := byStream(parseLog(t, r.LogPath))
		if out != "F out\nP partial\n" || errs != "F err\n" {
			t.Fatalf("exec log (k8s-file): stdout entries %q, stderr entries %q", out, errs)
		}
	})
	t.Run("exit_record", func(t *testing.T) {
		// An exec session's record goes to its persist dir (§16.3).
		extension(t)
		persist := t.TempDir()
		r := c.execSync(t, []string{"sh", "-c", "echo hi; exit 5"}, "--persist-dir", persist)
		if r.Status != 5 {
			t.Fatalf("status %d, want 5; sync %q", r.Status, r.Sync)
		}
		rec := readExitRecord(t, persist)
		if rec.ExitCode == nil || *rec.ExitCode != 5 || rec.Logs["stdout"].LoggedLines != 1 {
			t.Errorf("exec record %+v", rec)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := c.execSync(t, []string{"sleep", "10"}, "-T", "1")
		if r.Sync != `{"exit_code": -1, "message": "command timed out"}`+"\n" || r.Status != 255 {
			t.Fatalf("sync pipe %q, status %d; want the timeout message and status 255", r.Sync, r.Status)
		}
		// The timer starts once the exec runs; the monitor does not wait for
		// the killed process to go away (§11.5).
		if r.Elapsed > 5*time.Second {
			t.Fatalf("ExecSync with -T 1 took %v, want about a second", r.Elapsed)
		}
		t.Logf("ExecSync -T 1 of sleep 10 took %v", r.Elapsed)
	})
	t.Run("tty", func(t *testing.T) {
		r := c.execSync(t, []string{"sh", "-c", "tty >/dev/null && echo on-a-tty; exit 4"}, "-t")
		if r.Sync != `{"exit_code": 4}`+"\n" || r.Status != 4 {
			t.Fatalf("sync pipe %q, status %d; want {\"exit_code\": 4}", r.Sync, r.Status)
		}
		if out, errs := byStream(parseLog(t, r.LogPath)); out != "F on-a-tty\r\n" || errs != "" {
			t.Fatalf("exec log: stdout entries %q, stderr entries %q; want the tty's \\r\\n line", out, errs)
		}
	})
	t.Run("not_found", func(t *testing.T) {
		r := c.execSync(t, []string{"/no/such/binary"})
		key, val, msg := decodeSync(t, []byte(r.Sync))
		if key != "exit_code" || val != -1 || !strings.Contains(msg, "no such file or directory") {
			t.Fatalf("sync pipe %q, want exit_code -1 with the runtime's error", r.Sync)
		}
		if r.Status != 1 {
			t.Errorf("status %d, want 1 (the exec's pidfile is missing, §11.6)", r.Status)
		}
	})
	t.Run("log_global_size_max", func(t *testing.T) {
		// 20 lines of 7 bytes; each entry costs 45+7 = 52 bytes, so a
		// global limit of 120 keeps three entries: the third crosses it.
		r := c.execSync(t, []string{"sh", "-c", `for i in 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29; do echo "line$i"; done`},
			"--log-global-size-max", "120")
		if r.Status != 0 {
			t.Fatalf("status %d, sync %q", r.Status, r.Sync)
		}
		var lines []string
		for _, e := range parseLog(t, r.LogPath) {
			lines = append(lines, strings.TrimSuffix(e.Content, "\n"))
		}
		if strings.Join(lines, ",") != "line10,line11,line12" {
			t.Fatalf("log holds %q, want the first three lines (the one crossing 120 bytes is kept)", lines)
		}
	})
}
