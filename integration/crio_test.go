package integration

// The monitor driven the way CRI-O drives it (§4, §6.1): no
// --api-version (sync key "pid" / "exit_code"), no --full-attach (the attach
// socket is reached through <socket-dir>/<cuuid>), SOCK_STREAM socketpairs
// for create, an os.Pipe sync channel for ExecSync, whose output lands in a
// k8s-file log given as a bare path.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shim-project/shim/internal/testutil"
)

type crioOpts struct {
	Args           []string
	Tty            bool
	Stdin          bool
	LeaveStdinOpen bool
	Runtime        string            // default runc; a wrapper script for gating
	Env            []string          // extra environment for the monitor (and so the runtime)
	Mounts         map[string]string // container path -> host dir, read-write bind mounts
}

// crio is one container monitor started as CRI-O starts it.
type crio struct {
	t         *testing.T
	ID        string
	Bundle    string
	SocketDir string
	ExitDir   string
	Persist   string
	RuncRoot  string
	LogPath   string
	Daemon    int
	CtrPID    int

	cmd    *exec.Cmd
	waitCh chan error
	sync   *os.File
	syncR  *bufio.Reader
	start  *os.File
	stderr bytes.Buffer
}

// streamPair is a SOCK_STREAM socketpair as CRI-O uses for sync and start:
// ours is non-blocking (read deadlines), theirs blocking.
func streamPair(t *testing.T) (ours, theirs *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
}

// startCrio creates the bundle and runs the monitor with CRI-O's create
// argv (§6.1), writes the start byte and waits for the first process.
func startCrio(t *testing.T, o crioOpts) *crio {
	t.Helper()
	setup(t)
	base := t.TempDir()
	c := &crio{
		t: t, ID: newID(),
		Bundle:    filepath.Join(base, "b"),
		SocketDir: filepath.Join(base, "s"),
		ExitDir:   filepath.Join(base, "e"),
		Persist:   filepath.Join(base, "p"),
		RuncRoot:  filepath.Join(base, "r"),
		LogPath:   filepath.Join(base, "ctr.log"),
	}
	for _, d := range []string{c.Bundle, c.SocketDir, c.ExitDir, c.Persist, c.RuncRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(t, c.Bundle, monOpts{Args: o.Args})
	patchConfig(t, c.Bundle, func(s *specs.Spec) {
		s.Process.Terminal = o.Tty
		for dst, src := range o.Mounts {
			s.Mounts = append(s.Mounts, specs.Mount{
				Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rw"}})
		}
	})
	t.Cleanup(c.cleanup)

	runtime := o.Runtime
	if runtime == "" {
		runtime = runcBin
	}
	args := []string{"-b", c.Bundle, "-c", c.ID, "--exit-dir", c.ExitDir, "-l", c.LogPath,
		"--log-level", "debug", "-n", "k8s_" + c.ID[len(c.ID)-6:],
		"-P", filepath.Join(c.Bundle, "conmon-pidfile"), "-p", filepath.Join(c.Bundle, "pidfile"),
		"--persist-dir", c.Persist, "-r", runtime, "--runtime-arg", "--root=" + c.RuncRoot,
		"--socket-dir-path", c.SocketDir, "--syslog", "-u", c.ID}
	switch {
	case o.Tty:
		args = append(args, "-t")
	case o.Stdin:
		if o.LeaveStdinOpen {
			args = append(args, "--leave-stdin-open")
		}
		args = append(args, "-i")
	}
	var theirSync, theirStart *os.File
	c.sync, theirSync = streamPair(t)
	c.start, theirStart = streamPair(t)
	c.syncR = bufio.NewReader(c.sync)
	c.cmd = exec.Command(shimBin, args...)
	c.cmd.Dir = c.Bundle
	c.cmd.Env = append(append(os.Environ(), o.Env...), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4")
	c.cmd.ExtraFiles = []*os.File{theirSync, theirStart}
	c.cmd.Stderr = &c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirSync.Close()
	theirStart.Close()
	c.waitCh = make(chan error, 1)
	go func() { c.waitCh <- c.cmd.Wait() }()
	if _, err := c.start.Write([]byte{0}); err != nil {
		t.Fatalf("start byte: %v", err)
	}
	select {
	case err := <-c.waitCh:
		if err != nil {
			t.Fatalf("first monitor process: %v\nstderr: %s", err, c.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("first monitor process still running after 10s")
	}
	c.Daemon = readExactInt(t, filepath.Join(c.Bundle, "conmon-pidfile"))
	return c
}

// created reads the legacy {"pid": N} message that ends creation.
func (c *crio) created() *crio {
	c.t.Helper()
	key, pid, msg := c.syncMsg(30 * time.Second)
	if key != "pid" || pid <= 0 {
		c.t.Fatalf("sync message %s=%d (%q), want pid=<container pid>", key, pid, msg)
	}
	c.CtrPID = pid
	return c
}

// syncMsg reads one newline-terminated message from the stream socket.
func (c *crio) syncMsg(timeout time.Duration) (string, int, string) {
	c.t.Helper()
	c.sync.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.syncR.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("reading the sync socket: %v (got %q)", err, line)
	}
	return decodeSync(c.t, line)
}

// decodeSync checks one sync message against the byte format of §5.1.
func decodeSync(t *testing.T, line []byte) (key string, val int, msg string) {
	t.Helper()
	m := syncRe.FindSubmatch(line)
	if m == nil {
		t.Fatalf("sync message %q is not in the format of docs/interface.md §5.1", line)
	}
	fmt.Sscan(string(m[2]), &val)
	if len(m[3]) > 0 {
		if err := json.Unmarshal([]byte(`"`+string(m[3])+`"`), &msg); err != nil {
			t.Fatalf("sync message text %q: %v", m[3], err)
		}
	}
	return string(m[1]), val, msg
}

func (c *crio) runc(args ...string) {
	c.t.Helper()
	out, errOut, code := runCmd(c.t, 30*time.Second, nil, runcBin, append([]string{"--root", c.RuncRoot}, args...)...)
	if code != 0 {
		c.t.Fatalf("runc %v: exit %d: %s%s", args, code, out, errOut)
	}
}

// attachPath is where CRI-O connects: through the socket-dir symlink.
func (c *crio) attachPath() string { return filepath.Join(c.SocketDir, c.ID, "attach") }

// waitExit waits for the exit file, then for the daemon to be gone.
func (c *crio) waitExit(want string) {
	c.t.Helper()
	path := filepath.Join(c.ExitDir, c.ID)
	var b []byte
	testutil.Eventually(c.t, 30*time.Second, "exit file "+path, func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil
	})
	if string(b) != want {
		c.t.Fatalf("exit file %q, want %q", b, want)
	}
	if p := readExactInt(c.t, filepath.Join(c.Persist, "exit")); fmt.Sprint(p) != want {
		c.t.Errorf("persist-dir exit file %d, want %s", p, want)
	}
	waitGone(c.t, c.Daemon, 10*time.Second, "monitor")
}

func (c *crio) cleanup() {
	exec.Command(runcBin, "--root", c.RuncRoot, "delete", "-f", c.ID).Run()
	if c.Daemon > 0 && alive(c.Daemon) && sameFile(exeOf(c.Daemon), shimBin) {
		syscall.Kill(c.Daemon, syscall.SIGKILL)
	}
	c.sync.Close()
	c.start.Close()
	if c.t.Failed() {
		c.t.Logf("monitor stderr: %s", c.stderr.String())
		if b, err := os.ReadFile(c.LogPath); err == nil {
			c.t.Logf("container log:\n%s", head(string(b), 4000))
		}
	}
}

// TestCrioCreateAttach: create with -u/--socket-dir-path and -i, attach at
// <socket-dir>/<cuuid>/attach, frames [2|3][payload], stdin through the
// socket, half-close closes it, the symlink is removed at exit.
func TestCrioCreateAttach(t *testing.T) {
	c := startCrio(t, crioOpts{Stdin: true,
		Args: []string{"sh", "-c", `echo ready; while read l; do echo "got $l"; echo "err $l" >&2; done; echo eof`}})
	c.created()
	if fi, err := os.Lstat(filepath.Join(c.SocketDir, c.ID)); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Fatalf("<socket-dir>/<cuuid>: %v %v, want a symlink to the bundle", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(c.Bundle, "attach")); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("attach socket in the bundle: %v %v", fi, err)
	}
	cl := dialAttach(t, c.attachPath())
	c.runc("start", c.ID)
	cl.waitFor(2, "ready\n")
	cl.send("hello\n")
	cl.waitFor(2, "got hello\n")
	cl.waitFor(3, "err hello\n")
	cl.send("world\n")
	cl.waitFor(2, "got world\n")
	cl.closeWrite() // CRI-O's half-close: the container sees EOF on stdin
	cl.waitFor(2, "eof\n")
	cl.waitEOF()
	c.waitExit("0")
	if got, want := cl.stream(2), "ready\ngot hello\ngot world\neof\n"; got != want {
		t.Errorf("stdout frames carried %q, want %q", got, want)
	}
	if got, want := cl.stream(3), "err hello\nerr world\n"; got != want {
		t.Errorf("stderr frames carried %q, want %q", got, want)
	}
	// The two pipes are read independently: compare each stream's entries.
	out, errs := byStream(parseLog(t, c.LogPath))
	if want := "F ready\nF got hello\nF got world\nF eof\n"; out != want {
		t.Errorf("stdout log entries %q, want %q", out, want)
	}
	if want := "F err hello\nF err world\n"; errs != want {
		t.Errorf("stderr log entries %q, want %q", errs, want)
	}
	if _, err := os.Stat(filepath.Join(c.Bundle, "attach")); !os.IsNotExist(err) {
		t.Errorf("attach socket left behind: %v", err)
	}
	// HEAD removes the socket-dir symlink at exit; 2.1.6 leaves it.
	if _, err := os.Lstat(filepath.Join(c.SocketDir, c.ID)); !isRef && !os.IsNotExist(err) {
		t.Errorf("socket-dir symlink left behind: %v", err)
	}
}

// TestCrioLeaveStdinOpen: with --leave-stdin-open a client's half-close
// does not end the container's stdin; a later client still reaches it.
func TestCrioLeaveStdinOpen(t *testing.T) {
	c := startCrio(t, crioOpts{Stdin: true, LeaveStdinOpen: true,
		Args: []string{"sh", "-c", `while read l; do echo "got $l"; done; echo eof`}})
	c.created()
	c.runc("start", c.ID)
	first := dialAttach(t, c.attachPath())
	first.send("one\n")
	first.waitFor(2, "got one\n")
	first.closeWrite()
	second := dialAttach(t, c.attachPath())
	second.send("two\n")
	second.waitFor(2, "got two\n")
	// The first client still receives output after its half-close (§8.2).
	first.waitFor(2, "got two\n")
	if s := second.stream(2); strings.Contains(s, "eof") {
		t.Fatalf("container saw EOF on stdin: %q", s)
	}
	c.runc("kill", c.ID, "KILL")
	c.waitExit("137")
	first.waitEOF()
	second.waitEOF()
}

// byStream renders each stream's log entries as "TAG content" lines.
func byStream(es []logEntry) (stdout, stderr string) {
	var b [2]strings.Builder
	for _, e := range es {
		i := 0
		if e.Stream == "stderr" {
			i = 1
		}
		b[i].WriteString(e.Tag + " " + e.Content)
		if e.Tag == "P" {
			b[i].WriteByte('\n')
		}
	}
	return b[0].String(), b[1].String()
}
