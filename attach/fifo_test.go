package attach

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// events collects callback calls from the FIFO goroutines.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.list = append(e.list, s)
	e.mu.Unlock()
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

func (e *events) resize(h, w uint16) error {
	e.add(fmt.Sprintf("resize %dx%d", h, w))
	return nil
}

func openTestFIFOs(t *testing.T, terminal bool) (*FIFOs, *events, *testLog) {
	t.Helper()
	ev, log := &events{}, &testLog{}
	f, err := OpenFIFOs(FIFOOptions{Bundle: t.TempDir(), Terminal: terminal,
		Reopen: func() { ev.add("reopen") }, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, ev, log
}

// writeFIFO writes like an engine: open O_WRONLY|O_NONBLOCK (which fails
// with ENXIO if nobody holds a reader), one write, close.
func writeFIFO(t *testing.T, path, msg string) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer unix.Close(fd)
	for len(msg) > 0 {
		n, err := unix.Write(fd, []byte(msg))
		if err == unix.EAGAIN {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		msg = msg[n:]
	}
}

func waitEvents(t *testing.T, ev *events, want ...string) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, fmt.Sprintf("events %q", want), func() bool { return len(ev.get()) >= len(want) })
	time.Sleep(10 * time.Millisecond) // nothing more may follow
	if got := ev.get(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestFIFOsCreated(t *testing.T) {
	bundle := t.TempDir()
	// Existing entries are replaced (recreated), whatever they were.
	os.WriteFile(filepath.Join(bundle, "ctl"), []byte("old"), 0o600)
	unix.Mkfifo(filepath.Join(bundle, "winsz"), 0o600)
	umask := unix.Umask(0o022)
	unix.Umask(umask)
	f, err := OpenFIFOs(FIFOOptions{Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []string{f.CtlPath(), f.WinszPath()} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Mode&0o777 != 0o660&^uint32(umask) {
			t.Errorf("%s: mode %o, want fifo %o", p, st.Mode, 0o660&^umask)
		}
		// The dummy writer's counterpart: an engine's non-blocking
		// writer open succeeds (no ENXIO) at any time.
		writeFIFO(t, p, "")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.CtlPath()); err != nil {
		t.Fatalf("ctl removed at Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCtlResizeThroughWinsz(t *testing.T) {
	f, ev, _ := openTestFIFOs(t, true)
	// Before the pty exists resizes wait in the winsz FIFO (podman sends its
	// initial size before `runtime start`).
	writeFIFO(t, f.CtlPath(), "1 10 20\n")
	time.Sleep(20 * time.Millisecond)
	if got := ev.get(); len(got) != 0 {
		t.Fatalf("resize applied before ServeWinsz: %q", got)
	}
	f.ServeWinsz(ev.resize)
	waitEvents(t, ev, "resize 10x20")
	writeFIFO(t, f.CtlPath(), "2 0 0\n1 30 40\n")
	waitEvents(t, ev, "resize 10x20", "reopen", "resize 30x40")
	writeFIFO(t, f.WinszPath(), "50 60\n")
	waitEvents(t, ev, "resize 10x20", "reopen", "resize 30x40", "resize 50x60")
}

func TestCtlRejectsThroughFIFO(t *testing.T) {
	f, ev, log := openTestFIFOs(t, true)
	f.ServeWinsz(ev.resize)
	// One write at a time: an invalid line drops the rest of its read, so
	// each must be consumed before the next is written.
	for i, msg := range []string{"1 1001 5\n", "1 2 2 " + strings.Repeat("#", 64<<10) + "\n", "7 1 1\n"} {
		writeFIFO(t, f.CtlPath(), msg)
		testutil.Eventually(t, 5*time.Second, "warning", func() bool { return len(log.warnings()) == i+1 })
	}
	writeFIFO(t, f.CtlPath(), "1 3 3\n")
	waitEvents(t, ev, "resize 3x3")
	want := []string{
		"Invalid window size: 1001x5 (must be between 0 and 1000)",
		"Could not find newline in entire buffer",
		"Invalid control message type: 7",
	}
	if got := log.warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("warnings %q, want %q", got, want)
	}
}

func TestCtlWithoutTerminal(t *testing.T) {
	f, ev, log := openTestFIFOs(t, false)
	for range 5000 { // would fill the winsz FIFO if resizes were queued
		writeFIFO(t, f.CtlPath(), "1 24 80\n")
	}
	writeFIFO(t, f.CtlPath(), "2 1 1\n")
	waitEvents(t, ev, "reopen")
	if w := log.warnings(); len(w) != 0 {
		t.Fatalf("warnings without a terminal: %q", w[0])
	}
}

func TestFIFOsNoDescriptorLeak(t *testing.T) {
	cycle := func() {
		f, err := OpenFIFOs(FIFOOptions{Bundle: t.TempDir(), Terminal: true})
		if err != nil {
			t.Fatal(err)
		}
		f.ServeWinsz(func(h, w uint16) error { return nil })
		writeFIFO(t, f.CtlPath(), "1 2 2\n")
		f.Close()
		f.ServeWinsz(func(h, w uint16) error { return nil }) // after Close: ignored
	}
	cycle()
	before := testutil.OpenFds(t)
	cycle()
	if after := testutil.OpenFds(t); after != before {
		t.Fatalf("descriptors: %d before, %d after", before, after)
	}
}

// TestFIFOEndsRefuseSwappedName: a symlink or a regular file put where the
// FIFO was just made (the bundle may be writable by others) is not opened,
// and the file it points to is left alone.
func TestFIFOEndsRefuseSwappedName(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "ctl-link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "ctl-plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	before := testutil.OpenFds(t)
	for _, p := range []string{link, plain} {
		if f, wfd, err := openFIFOEnds(p); err == nil {
			f.Close()
			unix.Close(wfd)
			t.Errorf("%s opened as the FIFO", p)
		}
	}
	if after := testutil.OpenFds(t); after != before {
		t.Errorf("%d fds after the refusals, %d before", after, before)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim holds %q", b)
	}
	f, wfd, err := openFIFO(filepath.Join(dir, "ctl"))
	if err != nil {
		t.Fatalf("a real FIFO: %v", err)
	}
	f.Close()
	unix.Close(wfd)
}
