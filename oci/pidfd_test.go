package oci

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

func openPidfd(t *testing.T, pid int) *Pidfd {
	t.Helper()
	p, err := OpenPidfd(pid)
	if errors.Is(err, unix.ENOSYS) {
		t.Fatalf("pidfd_open: %v: this test needs Linux >= 5.3", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitGone(t *testing.T, p *Pidfd) {
	t.Helper()
	select {
	case <-p.Gone():
	case <-time.After(20 * time.Second):
		t.Fatal("pidfd never reported the exit")
	}
}

// A child: Gone fires when it exits, IsChild holds while it is an unreaped
// zombie (the peek does not reap it) and not after it was reaped.
func TestPidfdChild(t *testing.T) {
	pid := startSh(t, "sleep 1000")
	p := openPidfd(t, pid)
	defer p.Close()
	if !p.IsChild() {
		t.Fatal("a running child is not a child")
	}
	select {
	case <-p.Gone():
		t.Fatal("Gone before the exit")
	default:
	}
	unix.Kill(pid, unix.SIGKILL)
	waitGone(t, p)
	if !p.IsChild() {
		t.Fatal("zombie child not seen as a child")
	}
	if st := procState(pid); st != "Z" {
		t.Fatalf("IsChild reaped the child (state %q)", st)
	}
	var ws unix.WaitStatus
	if got, err := unix.Wait4(pid, &ws, 0, nil); got != pid || err != nil || ws.Signal() != unix.SIGKILL {
		t.Fatalf("wait4: %d %v %v", got, err, ws)
	}
	if p.IsChild() {
		t.Fatal("reaped child still a child")
	}
	if _, err := OpenPidfd(pid); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("pidfd of a reaped pid: %v, want ESRCH", err)
	}
}

// A process that is not our child (its parent exited; it went to init) is
// tracked until it is gone: the case conmon HEAD probes with kill(pid, 0).
func TestPidfdNotChild(t *testing.T) {
	r, w := pipe(t)
	null := openFile(t, os.DevNull, os.O_RDWR)
	l := sh(`sleep 1000 </dev/null >/dev/null 2>&1 & echo $!`)
	l.Files = []int{int(null.Fd()), int(w.Fd()), int(null.Fd())}
	shPid, err := Start(l)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(shPid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("background pid %q: %v", buf[:n], err)
	}
	p := openPidfd(t, pid)
	defer p.Close()
	if p.IsChild() {
		t.Fatal("a grandchild reparented to init taken for our child")
	}
	unix.Kill(pid, unix.SIGKILL)
	waitGone(t, p)
}

func TestPidfdCloseReleasesFd(t *testing.T) {
	pid := startSh(t, "sleep 1000")
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}()
	before := testutil.OpenFds(t)
	for range 10 {
		openPidfd(t, pid).Close()
	}
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("open fds went from %d to %d", before, after)
	}
}
