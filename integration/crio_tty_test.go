package integration

// -t the CRI-O way (§7, §9): the console socket, the ctl and winsz FIFOs,
// input and resizes that arrive before the pty master does.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// gatedRuntime writes a runtime wrapper that holds every runtime call until
// the returned gate file exists, so a test can act before `runtime create`
// (e.g. before the pty master exists).
func gatedRuntime(t *testing.T) (runtime, gate string) {
	t.Helper()
	setup(t)
	dir := t.TempDir()
	runtime, gate = filepath.Join(dir, "runtime"), filepath.Join(dir, "go")
	script := fmt.Sprintf("#!/bin/sh\nwhile [ ! -e %s ]; do sleep 0.02; done\nexec %s \"$@\"\n", gate, runcBin)
	if err := os.WriteFile(runtime, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return runtime, gate
}

// writeFIFO writes msg to one of the monitor's FIFOs as engines do
// (O_WRONLY|O_NONBLOCK) and waits until the monitor has read it.
func writeFIFO(t *testing.T, path, msg string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(msg); err != nil {
		t.Fatalf("write %q to %s: %v", msg, path, err)
	}
	testutil.Eventually(t, 10*time.Second, "the monitor to read "+path, func() bool { return fifoPending(t, f) == 0 })
}

// ttySizer talks to a container running
// `while read l; do echo "line=$l size=$(stty size)"; done` on a tty.
type ttySizer struct {
	cl *attachClient
	n  int
}

// size asks for the terminal size once.
func (s *ttySizer) size() string {
	s.cl.t.Helper()
	s.n++
	tag := fmt.Sprintf("q%d", s.n)
	s.cl.send(tag + "\n")
	re := regexp.MustCompile(`line=` + tag + ` size=(\d+ \d+)\r\n`)
	var m []string
	testutil.Eventually(s.cl.t, 20*time.Second, "the size answer to "+tag, func() bool {
		m = re.FindStringSubmatch(s.cl.stream(2))
		return m != nil
	})
	return m[1]
}

// waitSize asks until the answer is want: resizes are applied asynchronously.
func (s *ttySizer) waitSize(want string) {
	s.cl.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got := s.size(); got != want; got = s.size() {
		if time.Now().After(deadline) {
			s.cl.t.Fatalf("terminal size %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrioTerminal: -t the CRI-O way. A resize sent through ctl and input
// sent through the attach socket before the runtime handed over the pty
// master both reach it once it arrives; garbage on ctl and winsz is
// rejected without harm; later resizes still apply.
func TestCrioTerminal(t *testing.T) {
	runtime, gate := gatedRuntime(t)
	c := startCrio(t, crioOpts{Tty: true, Runtime: runtime,
		Args: []string{"sh", "-c", `while read l; do echo "line=$l size=$(stty size)"; done; echo bye`}})
	ctl, winsz := filepath.Join(c.Bundle, "ctl"), filepath.Join(c.Bundle, "winsz")
	testutil.Eventually(t, 10*time.Second, "ctl FIFO", func() bool { _, err := os.Stat(ctl); return err == nil })
	writeFIFO(t, ctl, "1 30 100\n") // the runtime has not run: no pty master yet
	cl := dialAttach(t, c.attachPath())
	cl.send("early\n")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.created()
	c.runc("start", c.ID)
	cl.waitFor(2, "line=early size=")
	sz := &ttySizer{cl: cl}
	sz.waitSize("30 100")

	writeFIFO(t, ctl, "garbage\n")
	writeFIFO(t, ctl, strings.Repeat("x", 300)+"\n") // longer than conmon's buffer
	writeFIFO(t, ctl, "3 1 1\n")                     // no such type
	writeFIFO(t, winsz, "foo\n")
	writeFIFO(t, winsz, "7\n")
	writeFIFO(t, ctl, "1 40 120\n")
	sz.waitSize("40 120")
	if !alive(c.Daemon) {
		t.Fatal("monitor died")
	}
	if !isRef { // 2.1.6 has no range check (§9, §14)
		writeFIFO(t, ctl, "1 1001 1000\n")
		writeFIFO(t, ctl, "1 -1 -1\n")
		writeFIFO(t, winsz, "2000 2000\n")
		if got := sz.size(); got != "40 120" {
			t.Fatalf("terminal size %q after out-of-range requests, want it unchanged (40 120)", got)
		}
		writeFIFO(t, ctl, "1 1000 1000\n") // the bounds are inclusive
		sz.waitSize("1000 1000")
	}
	cl.send("\x04") // ^D on an empty line: EOF for read
	cl.waitFor(2, "bye\r\n")
	cl.waitEOF()
	c.waitExit("0")
	out, errs := byStream(parseLog(t, c.LogPath))
	if !strings.Contains(out, "line=early size=") || errs != "" {
		t.Errorf("log: stdout %q, stderr %q; want the tty output as stdout", out, errs)
	}
}
