package integration

// Exit tracking of a container whose init is not the monitor's descendant
// (§3.3 [HEAD]): the monitor gets ECHILD, must notice the process is gone
// without being fooled by pid reuse, and records status 0.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runtimeServerEnv makes the test binary a runtime server (see
// foreignRuntime) instead of running tests.
const runtimeServerEnv = "SHIM_IT_RUNTIME_SERVER"

func init() {
	if dir := os.Getenv(runtimeServerEnv); dir != "" {
		os.Exit(serveRuntime(dir))
	}
}

// foreignRuntime returns a runtime wrapper that has a server process,
// started by the test, run the real runc: the container init then descends
// from that server, not from the monitor. The server is a subreaper that
// reaps the init the moment it dies, so its pid is free at once. The
// wrapper's stdio is reopened through /proc so that the container still
// writes into the monitor's pipes.
func foreignRuntime(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"req", "resp"} {
		if err := syscall.Mkfifo(filepath.Join(dir, f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(dir, "runtime")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' $$ \"$@\" > %s/req\nread code < %s/resp\nexit $code\n", dir, dir)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(os.Args[0])
	srv.Env = append(os.Environ(), runtimeServerEnv+"="+dir, "RUNC="+runcBin)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	return wrapper
}

// serveRuntime answers one runtime call: it runs runc with the caller's
// stdio, reports the status, then reaps whatever is reparented to it until
// nothing is left.
func serveRuntime(dir string) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "runtime server:", err)
		return 1
	}
	b, err := os.ReadFile(filepath.Join(dir, "req"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime server:", err)
		return 1
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var files []uintptr
	var keep []*os.File // the fds must stay open until runc has them
	for fd := 0; fd <= 2; fd++ {
		f, err := os.OpenFile("/proc/"+lines[0]+"/fd/"+strconv.Itoa(fd), os.O_RDWR, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "runtime server:", err)
			return 1
		}
		files = append(files, f.Fd())
		keep = append(keep, f)
	}
	runc := os.Getenv("RUNC")
	pid, err := syscall.ForkExec(runc, append([]string{runc}, lines[1:]...), &syscall.ProcAttr{Env: os.Environ(), Files: files})
	for _, f := range keep {
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime server:", err)
		return 1
	}
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0 // ECHILD: the container is gone too
		}
		if got == pid {
			os.WriteFile(filepath.Join(dir, "resp"), []byte(strconv.Itoa(ws.ExitStatus())+"\n"), 0)
		}
	}
}

func TestExitOfNonChild(t *testing.T) {
	headOnly(t, "2.1.6 has no ECHILD handling")
	setup(t)
	rt := foreignRuntime(t)
	r := startMon(t, monOpts{
		Args:  []string{"sh", "-c", "echo running; read x; exit 3"},
		Extra: []string{"-r", rt, "-i"},
	})
	r.created()
	st, err := readProcStat(r.CtrPID)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID == r.Daemon {
		t.Fatalf("container init %d is the monitor's child: the test set-up failed", r.CtrPID)
	}
	r.startCtr()
	r.waitLog("running", 10*time.Second)
	if !alive(r.Daemon) {
		t.Fatal("monitor gone while the container runs")
	}
	syscall.Kill(r.CtrPID, syscall.SIGKILL)
	got := r.waitExit(10 * time.Second)
	if got != "0" {
		t.Fatalf("exit file %q, want 0 (status of a non-child is unknowable)", got)
	}
	waitGone(t, r.Daemon, 10*time.Second, "monitor after its container exited")
	if strings.Contains(r.Stderr.String(), "panic") {
		t.Fatalf("monitor stderr: %s", r.Stderr.String())
	}
}

// reusePid starts a process that gets pid once the kernel has freed it, by
// steering the pid allocator (ns_last_pid, root only). It returns nil if
// another process took the number first.
func reusePid(t *testing.T, pid int) *exec.Cmd {
	t.Helper()
	for try := 0; try < 500; try++ {
		if alive(pid) || procExists(pid) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Skipf("cannot steer pid allocation: %v", err)
		}
		c := exec.Command("/bin/sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.Process.Pid == pid {
			t.Cleanup(func() { c.Process.Kill(); c.Wait() })
			return c
		}
		c.Process.Kill()
		c.Wait()
	}
	return nil
}

func procExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// The container's pid is taken by an unrelated process right after the
// container died: a kill(pid, 0) probe would see it "alive" forever, the
// pidfd knows better.
func TestExitOfNonChildPidReused(t *testing.T) {
	headOnly(t, "2.1.6 has no ECHILD handling")
	setup(t)
	rt := foreignRuntime(t)
	r := startMon(t, monOpts{
		Args:  []string{"sh", "-c", "echo running; read x"},
		Extra: []string{"-r", rt, "-i"},
	})
	r.created()
	r.startCtr()
	r.waitLog("running", 10*time.Second)
	syscall.Kill(r.CtrPID, syscall.SIGKILL)
	if reusePid(t, r.CtrPID) == nil {
		t.Skipf("pid %d was taken by another process before the test could reuse it", r.CtrPID)
	}
	if got := r.waitExit(10 * time.Second); got != "0" {
		t.Fatalf("exit file %q, want 0", got)
	}
}
