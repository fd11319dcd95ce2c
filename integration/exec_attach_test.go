package integration

// podman's exec session driven directly (§5.4, §6.1): -e --exec-attach
// --api-version, SOCK_SEQPACKET sync/start/attach pipes, the attach socket
// in the exec bundle, start byte #2 after the attach client connected.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execAttach is one `podman exec`-style monitor.
type execAttach struct {
	t       *testing.T
	ctr     *crio
	Session string
	Bundle  string // the exec bundle, <ctr bundle>/<session>
	ExitDir string
	Daemon  int

	cmd    *exec.Cmd
	waitCh chan error
	sync   *os.File
	start  *os.File
	attach *os.File
}

// startExecAttach runs the monitor with podman 4.3's exec argv, writes start
// byte #1 and waits for the first process to exit.
func startExecAttach(t *testing.T, ctr *crio, args []string) *execAttach {
	t.Helper()
	e := &execAttach{t: t, ctr: ctr, Session: newID()}
	e.Bundle = filepath.Join(t.TempDir(), e.Session)
	e.ExitDir = filepath.Join(e.Bundle, "exit")
	if err := os.MkdirAll(e.ExitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(e.Bundle, "exec-spec.json")
	writeProcessSpec(t, spec, args, false)
	var theirSync, theirStart, theirAttach *os.File
	e.sync, theirSync = seqpacketPair(t)
	e.start, theirStart = seqpacketPair(t)
	e.attach, theirAttach = seqpacketPair(t)
	e.cmd = exec.Command(shimBin, "--api-version", "1", "-c", ctr.ID, "-u", e.Session, "-r", runcBin,
		"-b", e.Bundle, "-p", filepath.Join(e.Bundle, "exec_pid"), "-n", "exec-"+e.Session[len(e.Session)-6:],
		"--exit-dir", e.ExitDir, "--full-attach", "-l", "none", "--log-level", "warning",
		"--runtime-arg", "--root="+ctr.RuncRoot, "--conmon-pidfile", filepath.Join(e.Bundle, "conmon.pid"),
		"-e", "--exec-attach", "--exec-process-spec", spec)
	e.cmd.Dir = e.Bundle
	e.cmd.Env = append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4", "_OCI_ATTACHPIPE=5")
	e.cmd.ExtraFiles = []*os.File{theirSync, theirStart, theirAttach}
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{theirSync, theirStart, theirAttach} {
		f.Close()
	}
	t.Cleanup(e.cleanup)
	e.goByte()
	if err := e.cmd.Wait(); err != nil {
		t.Fatalf("first exec monitor process: %v", err)
	}
	e.Daemon = readExactInt(t, filepath.Join(e.Bundle, "conmon.pid"))
	return e
}

func (e *execAttach) goByte() {
	e.t.Helper()
	if _, err := e.start.Write([]byte{0}); err != nil {
		e.t.Fatalf("start byte: %v", err)
	}
}

// read reads one datagram from one of our pipe ends.
func (e *execAttach) read(f *os.File, timeout time.Duration) ([]byte, error) {
	f.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 8192)
	n, err := f.Read(buf)
	return buf[:n], err
}

func (e *execAttach) msg(f *os.File) (string, int, string) {
	e.t.Helper()
	b, err := e.read(f, 30*time.Second)
	if err != nil {
		e.t.Fatalf("reading %s pipe: %v", f.Name(), err)
	}
	return decodeSync(e.t, b)
}

func (e *execAttach) cleanup() {
	if e.Daemon > 0 && alive(e.Daemon) && sameFile(exeOf(e.Daemon), shimBin) {
		syscall.Kill(e.Daemon, syscall.SIGKILL)
	}
	e.sync.Close()
	e.start.Close()
	e.attach.Close()
}

// TestExecAttachHandshake: the attach pipe says the socket is ready, nothing
// runs until start byte #2, the sync pipe carries the pid and then the exit
// status, the exit file is named by the container ID.
func TestExecAttachHandshake(t *testing.T) {
	shared := t.TempDir()
	c := startCrio(t, crioOpts{Args: []string{"sleep", "1000"}, Mounts: map[string]string{"/mnt": shared}}).created()
	c.runc("start", c.ID)
	marker := filepath.Join(shared, "ran")
	e := startExecAttach(t, c, []string{"sh", "-c", "echo ran > /mnt/ran; echo out; echo err >&2; exit 3"})

	if b, err := e.read(e.attach, 30*time.Second); err != nil || string(b) != `{"data": 0}`+"\n" {
		t.Fatalf("attach pipe: %q, %v; want {\"data\": 0}", b, err)
	}
	for name, typ := range map[string]os.FileMode{"attach": os.ModeSocket, "ctl": os.ModeNamedPipe, "winsz": os.ModeNamedPipe} {
		if fi, err := os.Stat(filepath.Join(e.Bundle, name)); err != nil || fi.Mode().Type() != typ {
			t.Fatalf("%s in the exec bundle when the attach pipe spoke: %v", name, err)
		}
	}
	cl := dialAttach(t, filepath.Join(e.Bundle, "attach"))

	// Held at start byte #2: the runtime must not have run the process.
	time.Sleep(500 * time.Millisecond)
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the exec process ran before start byte #2 (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(e.Bundle, "exec_pid")); !os.IsNotExist(err) {
		t.Fatalf("runtime wrote the exec pidfile before start byte #2 (%v)", err)
	}
	if b, err := e.read(e.sync, 10*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sync pipe spoke before start byte #2: %q %v", b, err)
	}

	e.goByte()
	if key, pid, msg := e.msg(e.sync); key != "data" || pid <= 0 || msg != "" {
		t.Fatalf("first sync message %s=%d %q, want data=<exec pid>", key, pid, msg)
	}
	if key, st, msg := e.msg(e.sync); key != "data" || st != 3 || msg != "" {
		t.Fatalf("second sync message %s=%d %q, want data=3 (the exit status)", key, st, msg)
	}
	if got := readExactInt(t, filepath.Join(e.ExitDir, c.ID)); got != 3 {
		t.Fatalf("exit file %d, want 3", got)
	}
	if ents, _ := os.ReadDir(e.ExitDir); len(ents) != 1 {
		t.Errorf("exit dir holds %d entries, want only <container ID>", len(ents))
	}
	cl.waitEOF()
	if out, errs := cl.stream(2), cl.stream(3); out != "out\n" || errs != "err\n" {
		t.Errorf("attach client got stdout %q, stderr %q", out, errs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("exec process did not run: %v", err)
	}
	waitGone(t, e.Daemon, 10*time.Second, "exec monitor")
	if _, err := os.Stat(filepath.Join(e.Bundle, "attach")); !os.IsNotExist(err) {
		t.Errorf("exec attach socket left behind: %v", err)
	}
}

// TestExecAttachFailure: a binary that does not exist: the runtime fails,
// {"data": -1, "message": <runtime error>}, no exit file (§5.2).
func TestExecAttachFailure(t *testing.T) {
	c := startCrio(t, crioOpts{Args: []string{"sleep", "1000"}}).created()
	c.runc("start", c.ID)
	e := startExecAttach(t, c, []string{"/no/such/binary"})
	if b, err := e.read(e.attach, 30*time.Second); err != nil || string(b) != `{"data": 0}`+"\n" {
		t.Fatalf("attach pipe: %q, %v; want {\"data\": 0}", b, err)
	}
	cl := dialAttach(t, filepath.Join(e.Bundle, "attach"))
	e.goByte()
	key, val, msg := e.msg(e.sync)
	if key != "data" || val != -1 || !strings.Contains(msg, "no such file or directory") {
		t.Fatalf("sync message %s=%d %q, want data=-1 with the runtime's error", key, val, msg)
	}
	waitGone(t, e.Daemon, 10*time.Second, "exec monitor")
	if b, err := e.read(e.sync, 100*time.Millisecond); len(b) > 0 {
		t.Errorf("more on the sync pipe after the failure: %q (%v)", b, err)
	}
	if ents, _ := os.ReadDir(e.ExitDir); len(ents) != 0 {
		t.Errorf("exit dir holds %v after a failed exec, want nothing", ents)
	}
	cl.waitEOF()
}
