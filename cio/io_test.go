package cio

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/logs"
)

type nopLog struct{}

func (nopLog) Errorf(string, ...any) {}
func (nopLog) Warnf(string, ...any)  {}
func (nopLog) Infof(string, ...any)  {}
func (nopLog) Debugf(string, ...any) {}

// TestOutputReachesLogAndAttach: with pipes, the container's two streams
// go to the k8s-file log and to an attach client with their own ids
// (§8.2), in the order written; a console socket left unused is removed.
func TestOutputReachesLogAndAttach(t *testing.T) {
	bundle := t.TempDir()
	logPath := filepath.Join(bundle, "ctr.log")
	w, err := logs.New(logs.Options{Specs: []logs.Spec{{Kind: logs.K8sFile, Path: logPath}}})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Logs: w, Log: nopLog{}, Bundle: bundle, FullAttach: true})
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	if c.HasConsole() || c.ConsolePath() != "" {
		t.Fatal("a console without -t")
	}
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: c.Server().Path(), Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fds := c.ChildFds()
	c.StartOutput()
	// Our copies of the child's ends go; the writes below use dups, as the
	// runtime would.
	o2, e2 := dup(t, fds[1]), dup(t, fds[2])
	c.CloseChildEnds()
	if _, err := o2.WriteString("one\n"); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 8193)
	n, err := conn.Read(frame)
	if err != nil || string(frame[:n]) != "\x02one\n" {
		t.Fatalf("first frame %q, %v", frame[:n], err)
	}
	if _, err := e2.WriteString("two\n"); err != nil {
		t.Fatal(err)
	}
	n, err = conn.Read(frame)
	if err != nil || string(frame[:n]) != "\x03two\n" {
		t.Fatalf("second frame %q, %v", frame[:n], err)
	}
	o2.Close()
	e2.Close()
	c.StopOutput(true, false)
	c.CloseAttach()
	c.Unlink()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " stdout F one") || !strings.HasSuffix(lines[1], " stderr F two") {
		t.Fatalf("log:\n%s", b)
	}
	if _, err := os.Stat(c.Server().Path()); !os.IsNotExist(err) {
		t.Errorf("attach socket left after Unlink: %v", err)
	}
}

// TestUnusedConsoleSocketRemoved: with -t, a create that fails never sends
// the pty; stopping must not leave the console socket in $TMPDIR.
func TestUnusedConsoleSocketRemoved(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	w, err := logs.New(logs.Options{Specs: []logs.Spec{{Kind: logs.K8sFile, Path: filepath.Join(t.TempDir(), "l")}}})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Terminal: true, Logs: w, Log: nopLog{}})
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	p := c.ConsolePath()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("console socket: %v", err)
	}
	if err := c.ReceiveConsole(10 * time.Millisecond); err == nil {
		t.Fatal("received a console nobody sent")
	}
	c.StopOutput(true, false)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("console socket %s left behind: %v", p, err)
	}
}

func dup(t *testing.T, fd int) *os.File {
	t.Helper()
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(nfd), "child end")
}
