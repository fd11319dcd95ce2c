package integration

// Socket activation (§12.2): LISTEN_PID must name the runtime process for
// runc to hand the LISTEN_FDS sockets to the container (runc then sets
// LISTEN_FDS=N and LISTEN_PID=1 there).

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listener returns a listening unix socket as a file, and its inode (the
// number /proc/<pid>/fd shows as socket:[N]).
func listener(t *testing.T) (*os.File, uint64) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "act.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return f, st.Ino
}

// recordingRuntime writes a wrapper that records its pid and LISTEN_PID,
// then execs runc (same pid, so runc sees the value the wrapper saw).
func recordingRuntime(t *testing.T) (wrapper, record string) {
	t.Helper()
	dir := t.TempDir()
	wrapper, record = filepath.Join(dir, "runtime"), filepath.Join(dir, "record")
	script := fmt.Sprintf("#!/bin/sh\necho \"$$ ${LISTEN_PID-unset} ${LISTEN_FDS-unset}\" >> %s\nexec %s \"$@\"\n", record, runcBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, record
}

const activationProbe = `echo "L=$LISTEN_PID F=$LISTEN_FDS I=$(stat -L -c %i /proc/self/fd/3)"`

// --replace-listen-pid: whatever LISTEN_PID the engine set, the runtime
// gets its own pid; runc accepts the fds and the container gets them.
func TestListenPidReplaced(t *testing.T) {
	setup(t)
	sock, ino := listener(t)
	rt, record := recordingRuntime(t)
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", "4242")
	r := startMon(t, monOpts{
		Args:     []string{"sh", "-c", activationProbe},
		Preserve: []*os.File{sock},
		Extra:    []string{"--replace-listen-pid", "-r", rt},
	}).run()
	if got := r.waitExit(30 * time.Second); got != "0" {
		t.Fatalf("exit file %q", got)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	if len(f) != 3 || f[0] != f[1] || f[2] != "1" {
		t.Fatalf("runtime saw pid/LISTEN_PID/LISTEN_FDS %q, want LISTEN_PID = its own pid", f)
	}
	r.waitLog(fmt.Sprintf("L=1 F=1 I=%d", ino), 5*time.Second)
}

// Without --replace-listen-pid, a LISTEN_PID naming someone else is left
// alone: runc then ignores LISTEN_FDS.
func TestListenPidOtherKept(t *testing.T) {
	setup(t)
	rt, record := recordingRuntime(t)
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", "4242")
	r := startMon(t, monOpts{
		Args:  []string{"sh", "-c", `echo "L=${LISTEN_PID-unset}"`},
		Extra: []string{"-r", rt},
	}).run()
	if got := r.waitExit(30 * time.Second); got != "0" {
		t.Fatalf("exit file %q", got)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(b)); len(f) < 2 || f[1] != "4242" {
		t.Fatalf("runtime saw %q, want LISTEN_PID 4242 untouched", b)
	}
	r.waitLog("L=unset", 5*time.Second)
}

// podman run with LISTEN_FDS, as systemd socket activation starts it
// (LISTEN_PID = podman's pid): podman 4.3 passes the sockets with
// --preserve-fds and sets LISTEN_FDS=1 LISTEN_PID=1 in the container; the
// listening socket must arrive at fd 3 (same socket, same inode).
func TestPodmanSocketActivation(t *testing.T) {
	pod := setupPodman(t)
	sock, ino := listener(t)
	name := pod.ctrName(t)
	pc := pod.cmd("run", "--name", name, testImage, "sh", "-c", activationProbe)
	// LISTEN_PID must be podman's own pid: a shell exports its $$ and
	// execs podman in place.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`}, pc.Args...)...)
	cmd.Env = pc.Env
	cmd.ExtraFiles = []*os.File{sock}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	want := "L=1 F=1 I=" + strconv.FormatUint(ino, 10)
	if !strings.Contains(string(out), want) {
		t.Fatalf("container printed %q, want %q", out, want)
	}
}
