package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/hack/probe"
)

// work is what a phase did besides loading the long-lived monitor.
type work struct {
	errors   int
	firstErr string
	execN    int           // short-lived monitors that exited
	execCPU  time.Duration // their CPU (see each phase)
	note     string
}

func (w *work) fail(err error) {
	if w.errors == 0 {
		w.firstErr = err.Error()
	}
	w.errors++
}

type phase struct {
	name  string
	count int
	run   func(s *soak, n int) work
	// then runs after the phase's own row; its row's bounds are checked
	// against the same start.
	then     func(s *soak) work
	thenName string
}

// execSync runs n ExecSyncs as CRI-O's probes do (§6.1): `monitor -e --sync`
// with the sync and start pipes, no bundle, a k8s-file -l; each monitor is
// our child and exits with the exec's status. execCPU is their own CPU
// (without runc's and the exec'd process's, which they reap).
func execSync(s *soak, n int) work {
	var w work
	dir, err := os.MkdirTemp(s.pm.scratch, "execsync-")
	if err != nil {
		w.fail(err)
		return w
	}
	defer os.RemoveAll(dir)
	c := s.ctr
	argv := []string{s.pm.monitor, "-c", c.id, "-n", "k8s_soak", "-r", c.runc,
		"-p", filepath.Join(dir, "exec-pid"), "-e", "-l", filepath.Join(dir, "exec.log"),
		"--socket-dir-path", dir, "--sync", "--exec-process-spec", c.execSpec}
	env := append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4")
	for i := 0; i < n; i++ {
		cpu, err := execSyncOnce(s.r, argv, env)
		if err != nil {
			w.fail(err)
			continue
		}
		w.execN++
		w.execCPU += cpu
		os.Remove(filepath.Join(dir, "exec.log"))
	}
	return w
}

func execSyncOnce(r *reaper, argv, env []string) (time.Duration, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer syncR.Close()
	startR, startW, err := os.Pipe()
	if err != nil {
		syncW.Close()
		return 0, err
	}
	defer startW.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	_, ch, err := r.start(argv, &os.ProcAttr{Env: env,
		Files: []*os.File{devnull, devnull, devnull, syncW, startR},
		Sys:   &syscall.SysProcAttr{Setpgid: true}})
	syncW.Close()
	startR.Close()
	devnull.Close()
	if err != nil {
		return 0, err
	}
	startW.Write([]byte{0})
	syncR.SetReadDeadline(time.Now().Add(time.Minute))
	msg, rerr := io.ReadAll(syncR)
	e, err := wait(ch, "exec sync monitor", time.Minute)
	if err != nil {
		return 0, err
	}
	if rerr != nil || e.status.ExitStatus() != 0 || !bytes.Contains(msg, []byte(`"exit_code": 0`)) {
		return 0, fmt.Errorf("exec sync: status %v, sync %q (%v)", e.status, msg, rerr)
	}
	return e.stat.Own, e.err
}

// attach connects to the attach socket and closes, n times.
func attach(s *soak, n int) work {
	var w work
	addr, closeDir, err := probe.AttachAddr(s.ctr.bundle)
	if err != nil {
		w.fail(err)
		return w
	}
	defer closeDir()
	for i := 0; i < n; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			w.fail(fmt.Errorf("socket: %w", err))
			continue
		}
		if err := unix.Connect(fd, addr); err != nil {
			w.fail(fmt.Errorf("connect %s/attach: %w", s.ctr.bundle, err))
		}
		unix.Close(fd)
	}
	return w
}

// ctl writes n messages to the ctl FIFO (§9), alternating a log reopen and
// a resize (ignored: the container has no terminal), and waits until the
// monitor has read them all.
func ctl(s *soak, n int) work {
	var w work
	path := filepath.Join(s.ctr.bundle, "ctl")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		w.fail(fmt.Errorf("open %s: %w", path, err))
		return w
	}
	defer f.Close()
	msgs := [][]byte{[]byte("2 0 0\n"), []byte("1 24 80\n")}
	for i := 0; i < n; i++ {
		if _, err := f.Write(msgs[i%2]); err != nil {
			w.fail(fmt.Errorf("write %s: %w", path, err))
			return w
		}
	}
	// FIONREAD (TIOCINQ) on either end of a pipe is what is still unread in it.
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
		if err != nil || left == 0 {
			break
		}
		if time.Now().After(deadline) {
			w.fail(fmt.Errorf("%s: %d bytes still unread after a minute", path, left))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return w
}

// logLine is the container's output line: 100 bytes with the newline.
const logLine = "soak-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghijklmnopqrstuvwxyz-0123456789abcdefghi"

// logs makes the container's own stdout (/proc/1/fd/1, the pipe the
// long-lived monitor reads) carry mib MiB of 100-byte lines, written from a
// `podman exec`, then a marker line, and waits until the marker is in the
// log: the monitor has written everything, rolling the log over at
// --log-size-max on the way.
func logs(s *soak, mib int) work { return output(s, int64(mib)<<20) }

// oneLine is one line of output after the attach storm: a monitor that
// notices a closed client only when a write to it fails lets go of them
// now (conmon too: it does not watch a client without -i).
func oneLine(s *soak) work { return output(s, 0) }

// output writes size bytes of logLine and a marker line to the container's
// stdout and waits for the marker in the log.
func output(s *soak, size int64) work {
	var w work
	marker := fmt.Sprintf("soak-done-%d", time.Now().UnixNano())
	script := fmt.Sprintf("yes %s | head -c %d > /proc/1/fd/1; echo %s > /proc/1/fd/1",
		logLine, size, marker)
	n0, cpu0 := s.r.adoptedMonitors()
	_, first, err := s.pm.run("exec", s.ctr.name, "sh", "-c", script)
	if err != nil {
		w.fail(err)
		return w
	}
	deadline := time.Now().Add(30 * time.Minute)
	for !logEndsWith(s.ctr.logPath, marker) {
		if time.Now().After(deadline) {
			w.fail(fmt.Errorf("marker %s not in %s after 30 minutes", marker, s.ctr.logPath))
			return w
		}
		time.Sleep(20 * time.Millisecond)
	}
	n1, cpu1 := s.r.awaitAdopted(n0+1, 5*time.Second)
	w.execN, w.execCPU = n1-n0, first+cpu1-cpu0
	if fi, err := os.Stat(s.ctr.logPath); err == nil {
		w.note = fmt.Sprintf("log now %d bytes", fi.Size())
	}
	return w
}

// logEndsWith reports whether the last KiB of the log holds marker.
func logEndsWith(path, marker string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	off := max(fi.Size()-1024, 0)
	b := make([]byte, 1024)
	n, _ := f.ReadAt(b, off)
	return strings.Contains(string(b[:n]), marker)
}

// podmanExec runs `podman exec CTR true` n times. Each starts an exec
// monitor whose daemon we adopt; execCPU is the daemons' own CPU plus
// podman's reaped children (the monitor's first process).
func podmanExec(s *soak, n int) work {
	var w work
	n0, cpu0 := s.r.adoptedMonitors()
	for i := 0; i < n; i++ {
		_, first, err := s.pm.run("exec", s.ctr.name, "true")
		if err != nil {
			w.fail(err)
			continue
		}
		w.execCPU += first
	}
	n1, cpu1 := s.r.awaitAdopted(n0+n-w.errors, 5*time.Second)
	w.execN, w.execCPU = n1-n0, w.execCPU+cpu1-cpu0
	return w
}
