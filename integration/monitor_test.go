package integration

// A harness that drives the monitor directly, as podman does, with runc and no
// podman: an OCI bundle in t.TempDir(), SOCK_SEQPACKET socketpairs passed as
// _OCI_SYNCPIPE / _OCI_STARTPIPE, the start byte, the sync message, `runc start`,
// and the exit file.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

type monOpts struct {
	Args     []string   // the container's process.args
	NoPidNS  bool       // share the host's pid namespace (signals then kill as usual)
	Sync     bool       // pass --sync: no fork, the process is the monitor
	Legacy   bool       // omit --api-version (sync key "pid")
	Preserve []*os.File // fds 3.. for the container (--runtime-opt --preserve-fds N)
	Extra    []string   // more monitor arguments
	Umask    string     // start the monitor under this umask (e.g. "077")
	NoConfig bool       // leave config.json out of the bundle: runtime create fails
	// Annotations go into config.json (per-container settings, §16.4).
	Annotations map[string]string
	Hold        bool // do not write the start byte yet (see sendStart)
	// Wrap runs the monitor through this command, which must exec its
	// arguments (the monitor's path and argv), e.g. a namespace wrapper.
	Wrap []string
	// LogArgs replaces the default "-l k8s-file:<bundle>/ctr.log" when non-nil.
	LogArgs []string
	// Stdout/Stderr, when set, are the monitor's own stdout/stderr instead of
	// the buffers (passthrough hands them to the container, which would keep
	// a buffer's pipe, and so cmd.Wait, open).
	Stdout, Stderr *os.File
	// Bin, when set, is the monitor binary instead of $SHIM_BIN (to compare
	// with conmon in the same run).
	Bin string
	// Env is added to the monitor's environment.
	Env []string
	// SocketDir, when set, replaces --full-attach with --socket-dir-path:
	// the attach socket is reached through <SocketDir>/<ID> (§8.1).
	SocketDir string
	// Before runs once the bundle and directories exist, before the
	// monitor starts (to put things where the monitor will create files).
	Before func(r *monRun)
}

type monRun struct {
	t        *testing.T
	ID       string
	Bundle   string
	ExitDir  string
	RuncRoot string
	LogPath  string

	bin      string // the monitor binary
	cmd      *exec.Cmd
	waitCh   chan error
	sync     *os.File // our end of _OCI_SYNCPIPE
	start    *os.File // our end of _OCI_STARTPIPE
	Stdout   bytes.Buffer
	Stderr   bytes.Buffer
	Daemon   int // monitor (daemon) pid, from --conmon-pidfile or cmd in --sync
	CtrPID   int // container pid from the sync message
	firstErr error
}

// seqpacketPair returns (ours, theirs): ours is non-blocking so that reads can
// have deadlines; theirs is blocking, as the engines pass it.
func seqpacketPair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
}

// startMon creates the bundle, starts the monitor and writes the start byte.
func startMon(t *testing.T, o monOpts) *monRun {
	t.Helper()
	setup(t)
	base := t.TempDir()
	r := &monRun{
		t:        t,
		ID:       newID(),
		Bundle:   filepath.Join(base, "bundle"),
		ExitDir:  filepath.Join(base, "exits"),
		RuncRoot: filepath.Join(base, "runc"),
		bin:      shimBin,
	}
	if o.Bin != "" {
		r.bin = o.Bin
	}
	r.LogPath = filepath.Join(r.Bundle, "ctr.log")
	for _, d := range []string{r.Bundle, r.ExitDir, r.RuncRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if !o.NoConfig {
		writeConfig(t, r.Bundle, o)
	}
	t.Cleanup(r.cleanup)
	if o.Before != nil {
		o.Before(r)
	}

	var theirSync, theirStart *os.File
	r.sync, theirSync = seqpacketPair(t)
	r.start, theirStart = seqpacketPair(t)
	extra := append(append([]*os.File{}, o.Preserve...), theirSync, theirStart)
	n := len(o.Preserve)

	args := []string{}
	if !o.Legacy {
		args = append(args, "--api-version", "1") // podman passes a stray "1"
	}
	args = append(args,
		"-c", r.ID, "-u", r.ID, "-r", runcBin, "-b", r.Bundle,
		"-p", filepath.Join(r.Bundle, "pidfile"),
		"-n", "test-"+r.ID[len(r.ID)-6:],
		"--exit-dir", r.ExitDir)
	if o.SocketDir != "" {
		args = append(args, "--socket-dir-path", o.SocketDir)
	} else {
		args = append(args, "--full-attach")
	}
	if o.LogArgs != nil {
		args = append(args, o.LogArgs...)
	} else {
		args = append(args, "-l", "k8s-file:"+r.LogPath)
	}
	args = append(args, "--log-level", "warning", "--runtime-arg", "--root="+r.RuncRoot)
	// Also with --sync, where it must not be written.
	args = append(args, "--conmon-pidfile", filepath.Join(r.Bundle, "conmon.pid"))
	if o.Sync {
		args = append(args, "--sync")
	}
	if n > 0 {
		args = append(args, "--runtime-opt", "--preserve-fds", "--runtime-opt", strconv.Itoa(n))
	}
	args = append(args, o.Extra...)

	if o.Umask != "" {
		r.cmd = exec.Command("/bin/sh", append([]string{"-c", "umask " + o.Umask + ` && exec "$0" "$@"`, r.bin}, args...)...)
	} else if len(o.Wrap) > 0 {
		r.cmd = exec.Command(o.Wrap[0], append(append(o.Wrap[1:len(o.Wrap):len(o.Wrap)], r.bin), args...)...)
	} else {
		r.cmd = exec.Command(r.bin, args...)
	}
	r.cmd.Dir = r.Bundle
	r.cmd.Env = append(os.Environ(),
		fmt.Sprintf("_OCI_SYNCPIPE=%d", 3+n),
		fmt.Sprintf("_OCI_STARTPIPE=%d", 4+n))
	r.cmd.Env = append(r.cmd.Env, o.Env...)
	r.cmd.ExtraFiles = extra
	r.cmd.Stdout, r.cmd.Stderr = &r.Stdout, &r.Stderr
	if o.Stdout != nil {
		r.cmd.Stdout = o.Stdout
	}
	if o.Stderr != nil {
		r.cmd.Stderr = o.Stderr
	}
	// Engines start the monitor in its own process group.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirSync.Close()
	theirStart.Close()
	r.waitCh = make(chan error, 1)
	go func() { r.waitCh <- r.cmd.Wait() }()
	if o.Sync {
		r.Daemon = r.cmd.Process.Pid
	}
	if !o.Hold {
		r.sendStart()
	}
	return r
}

// sendStart writes the one "go" byte podman writes to _OCI_STARTPIPE.
func (r *monRun) sendStart() {
	r.t.Helper()
	if _, err := r.start.Write([]byte{0}); err != nil {
		r.t.Fatalf("writing the start byte: %v (did the monitor exit early? stderr: %s)", err, r.Stderr.String())
	}
}

// waitProcess waits for the started process (the first process, or the
// monitor itself with --sync) and returns its exit code.
func (r *monRun) waitProcess(timeout time.Duration) int {
	r.t.Helper()
	select {
	case err := <-r.waitCh:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			r.t.Fatal(err)
		}
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		r.t.Fatalf("monitor process %d still running (or holding its stdout/stderr open) after %v\nstderr: %s",
			r.cmd.Process.Pid, timeout, r.Stderr.String())
		return -1
	}
}

// firstExit waits for the first process to exit 0 (it must, promptly, and it
// must not leave its stdout/stderr open in the daemon) and reads the daemon
// pid from --conmon-pidfile.
func (r *monRun) firstExit() {
	r.t.Helper()
	if code := r.waitProcess(10 * time.Second); code != 0 {
		r.t.Fatalf("first monitor process exited %d, want 0\nstdout: %s\nstderr: %s", code, r.Stdout.String(), r.Stderr.String())
	}
	r.Daemon = readExactInt(r.t, filepath.Join(r.Bundle, "conmon.pid"))
}

var syncRe = regexp.MustCompile(`^\{"(data|pid|exit_code)": (-?\d+)(?:, "message": "((?:[^"\\]|\\.)*)")?\}\n$`)

// syncMsg reads one sync-pipe message and checks its exact format.
func (r *monRun) syncMsg(timeout time.Duration) (key string, val int, msg string) {
	r.t.Helper()
	if err := r.sync.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 8192)
	n, err := r.sync.Read(buf)
	if err != nil {
		r.t.Fatalf("reading the sync pipe: %v\nmonitor stderr: %s", err, r.Stderr.String())
	}
	m := syncRe.FindSubmatch(buf[:n])
	if m == nil {
		r.t.Fatalf("sync message %q is not in the format of docs/interface.md §5.1", buf[:n])
	}
	val, _ = strconv.Atoi(string(m[2]))
	if len(m[3]) > 0 {
		var s string
		if err := json.Unmarshal([]byte(`"`+string(m[3])+`"`), &s); err != nil {
			r.t.Fatalf("sync message text %q: %v", m[3], err)
		}
		msg = s
	}
	return string(m[1]), val, msg
}

// created completes creation: first process exits (unless --sync), the sync
// pipe reports the container pid.
func (r *monRun) created() {
	r.t.Helper()
	if r.Daemon == 0 {
		r.firstExit()
	}
	key, pid, msg := r.syncMsg(30 * time.Second)
	if pid <= 0 {
		r.t.Fatalf("sync pipe: %s = %d (%q), want the container pid", key, pid, msg)
	}
	r.CtrPID = pid
}

// runc runs the runtime against this test's runc root.
func (r *monRun) runc(args ...string) (string, int) {
	r.t.Helper()
	out, errOut, code := runCmd(r.t, 30*time.Second, nil, runcBin, append([]string{"--root", r.RuncRoot}, args...)...)
	return out + errOut, code
}

// startCtr runs `runc start`, as the engine does after the pid arrives.
func (r *monRun) startCtr() {
	r.t.Helper()
	if out, code := r.runc("start", r.ID); code != 0 {
		r.t.Fatalf("runc start: exit %d: %s", code, out)
	}
}

// run does the whole create + start sequence.
func (r *monRun) run() *monRun {
	r.t.Helper()
	r.created()
	r.startCtr()
	return r
}

func (r *monRun) exitFile() string { return filepath.Join(r.ExitDir, r.ID) }

// waitExit waits for the exit file and returns its exact content.
func (r *monRun) waitExit(timeout time.Duration) string {
	r.t.Helper()
	var b []byte
	testutil.Eventually(r.t, timeout, "exit file "+r.exitFile(), func() bool {
		var err error
		b, err = os.ReadFile(r.exitFile())
		return err == nil
	})
	return string(b)
}

// waitLog waits until the log file contains s.
func (r *monRun) waitLog(s string, timeout time.Duration) {
	r.t.Helper()
	testutil.Eventually(r.t, timeout, fmt.Sprintf("%q in %s", s, r.LogPath), func() bool {
		b, _ := os.ReadFile(r.LogPath)
		return strings.Contains(string(b), s)
	})
}

func (r *monRun) cleanup() {
	if r.RuncRoot != "" {
		exec.Command(runcBin, "--root", r.RuncRoot, "delete", "-f", r.ID).Run()
	}
	// The daemon is a process this test started; make sure it does not outlive it.
	if r.Daemon > 0 && alive(r.Daemon) && sameFile(exeOf(r.Daemon), r.bin) {
		syscall.Kill(r.Daemon, syscall.SIGKILL)
	}
	if r.sync != nil {
		r.sync.Close()
	}
	if r.start != nil {
		r.start.Close()
	}
	if r.t.Failed() {
		r.t.Logf("monitor stdout: %s\nmonitor stderr: %s", r.Stdout.String(), r.Stderr.String())
		if b, err := os.ReadFile(r.LogPath); err == nil {
			r.t.Logf("container log:\n%s", head(string(b), 4000))
		}
	}
}
