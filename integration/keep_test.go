package integration

// Faults shim survives better than conmon 2.1.6 (issue 11, "Keep"): each
// test fails if that regresses. Disk full with whole entries is
// TestLoggingDiskFull; one stuck client among readers TestAttachStuckClient.

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// TestKeepCtlGarbageThenReopen: junk on the ctl FIFO, a line of 1 MB among
// it, neither stops the ctl reader nor the monitor; a valid reopen after it
// still recreates a log that was renamed away.
func TestKeepCtlGarbageThenReopen(t *testing.T) {
	if isRef {
		t.Skip("conmon 2.1.6 stops reading ctl: the 1 MB of garbage is never taken")
	}
	r := startMon(t, monOpts{Args: tickArgs}).run()
	r.waitLog("line 2\n", 10*time.Second)
	ctl := filepath.Join(r.Bundle, "ctl")
	f, err := os.OpenFile(ctl, os.O_WRONLY, 0) // the monitor holds a reader: no wait
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := "foo\n999\n3 1 1\n1 -1 -1\n\x00\xff\xfe binary\n" + strings.Repeat("#", 1<<20) + "\n"
	done := make(chan error, 1)
	go func() { _, err := f.WriteString(garbage); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("write garbage to ctl: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the monitor stopped reading ctl: 1 MB of garbage not taken within 30 s")
	}
	old := r.LogPath + ".old"
	if err := os.Rename(r.LogPath, old); err != nil {
		t.Fatal(err)
	}
	writeFIFO(t, ctl, "2 0 0\n")
	testutil.Eventually(t, 10*time.Second, "the log recreated by a valid reopen after the garbage", func() bool {
		return strings.Contains(fileTail(r.LogPath, 200), "line ")
	})
	killAndFinish(t, r)
}

// TestKeepLogDirDeleted: the log's directory is deleted and a reopen asked
// for; the reopen fails with a warning, the monitor goes on, a reopen once
// the directory is back recreates the log, and the exit code is recorded.
func TestKeepLogDirDeleted(t *testing.T) {
	if isRef {
		t.Skip("conmon exits on a failed reopen (§10.5), before writing any exit file")
	}
	records := listenSyslog(t)
	dir := filepath.Join(t.TempDir(), "logs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "ctr.log")
	r := startMon(t, monOpts{Args: tickArgs, LogArgs: []string{"-l", "k8s-file:" + log}, Extra: []string{"--syslog"}})
	r.LogPath = log
	r.run()
	r.waitLog("line 2\n", 10*time.Second)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	ctl := filepath.Join(r.Bundle, "ctl")
	writeFIFO(t, ctl, "2 0 0\n")
	testutil.Eventually(t, 10*time.Second, "a warning about the failed reopen", func() bool {
		return records.has("Failed to reopen log file")
	})
	if !alive(r.Daemon) || !alive(r.CtrPID) {
		t.Fatal("the monitor or the container died after a reopen into a deleted directory")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFIFO(t, ctl, "2 0 0\n")
	r.waitLog("line ", 10*time.Second)
	killAndFinish(t, r)
}

// TestKeepSyncPipeClosedEarly: the engine closes its end of the sync pipe
// before the pid message. The monitor cannot report the pid, but it keeps
// the container and records its exit code.
func TestKeepSyncPipeClosedEarly(t *testing.T) {
	if isRef {
		t.Skip("conmon 2.1.6 writes no exit file once the engine closed the sync pipe early")
	}
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "sleep 0.5; exit 7"}})
	r.sync.Close()
	r.sync = nil
	r.firstExit()
	testutil.Eventually(t, 30*time.Second, "runc to report the container created", func() bool {
		out, code := r.runc("state", r.ID)
		return code == 0 && strings.Contains(out, `"created"`)
	})
	r.startCtr()
	r.finish("7")
}

// TestKeepFiveStuckClients: five attach clients connect and never read
// while the container prints 20 MB. The container still gets everything
// out (the log has it all), the clients are dropped, the monitor lives.
func TestKeepFiveStuckClients(t *testing.T) {
	if isRef {
		t.Skip("conmon writes to attach clients blocking: one client that never reads stalls the container for good")
	}
	r := startMon(t, monOpts{Args: []string{"sh", "-c",
		"yes " + strings.TrimSuffix(slowLine, "\n") + " | head -n 200000; echo written; exec sleep 100000"}})
	r.created()
	attachPath := filepath.Join(r.Bundle, "attach")
	var stuck []*net.UnixConn
	for range 5 {
		c := dialPacket(t, attachPath) // connects and never reads
		t.Cleanup(func() { c.Close() })
		stuck = append(stuck, c)
	}
	r.startCtr()
	testutil.Eventually(t, 2*time.Minute, "the container to write 20 MB past five stuck clients", func() bool {
		return strings.HasSuffix(fileTail(r.LogPath, 64), " stdout F "+slowEnd)
	})
	if !alive(r.Daemon) {
		t.Fatal("monitor died")
	}
	for i, c := range stuck { // dropped while the container runs: EOF after what was buffered
		if b, err := drainPacket(c, 10*time.Second); err != nil {
			t.Errorf("stuck client %d: %v after %d bytes, want EOF", i, err, len(b))
		}
	}
	killAndFinish(t, r)
	var got strings.Builder
	for _, e := range parseLog(t, r.LogPath) {
		got.WriteString(e.Content) // P entries without the '\n' added to them
	}
	if want := strings.Repeat(slowLine, 200000) + slowEnd; got.String() != want {
		t.Fatalf("log holds %d bytes of output, want %d: output lost past the stuck clients", got.Len(), len(want))
	}
}

// TestKeepExitWhileClientNeverReads: the container exits with output still
// queued for a client that never reads; the exit file comes anyway, within
// the exit-time bound on stuck clients (2 s) and far from hanging.
func TestKeepExitWhileClientNeverReads(t *testing.T) {
	if isRef {
		t.Skip("conmon writes to attach clients blocking: a client that never reads holds its exit for good")
	}
	// 512 KiB: more than the socket buffer, less than the client's queue,
	// so nothing stalls while the container runs.
	r := startMon(t, monOpts{Args: []string{"sh", "-c",
		"yes " + strings.TrimSuffix(slowLine, "\n") + " | head -c 524288; exit 5"}})
	r.created()
	c := dialPacket(t, filepath.Join(r.Bundle, "attach"))
	defer c.Close()
	r.startCtr()
	testutil.Eventually(t, 30*time.Second, "the container to exit", func() bool { return !alive(r.CtrPID) })
	t0 := time.Now()
	if got := r.waitExit(5 * time.Second); got != "5" {
		t.Fatalf("exit file %q, want \"5\"", got)
	}
	t.Logf("exit file %v after the container was gone, one client never reading", time.Since(t0))
	r.finish("5")
}
