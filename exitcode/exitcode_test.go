package exitcode

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// withUmask runs f under umask m; the umask is process-wide, so tests using
// it do not run in parallel.
func withUmask(t *testing.T, m int, f func()) {
	t.Helper()
	old := unix.Umask(m)
	defer unix.Umask(old)
	f()
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func checkFile(t *testing.T, path, want string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != mode {
		t.Errorf("%s mode = %v, want %v", path, st.Mode(), mode)
	}
}

func TestWriteAtomicExactBytesAndMode(t *testing.T) {
	dir := t.TempDir()
	withUmask(t, 0o077, func() {
		for _, content := range []string{"3", "-1", "137", "0"} {
			if err := WriteAtomic(filepath.Join(dir, "cid"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			checkFile(t, filepath.Join(dir, "cid"), content, 0o644)
			if names := listDir(t, dir); !reflect.DeepEqual(names, []string{"cid"}) {
				t.Fatalf("dir holds %v, want only cid (temp file left behind?)", names)
			}
		}
	})
}

func TestWriteAtomicReplacesRestrictiveFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "exit")
	if err := os.WriteFile(p, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(filepath.Join(dir, "exit"), []byte("7"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkFile(t, p, "7", 0o644)
}

// Readers racing with repeated rewrites must only ever see a whole value.
func TestWriteAtomicNeverPartial(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cid")
	values := []string{"1", "-1", "137", "12345678"}
	if err := WriteAtomic(filepath.Join(dir, "cid"), []byte(values[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(p)
				ok := err == nil && (string(b) == "1" || string(b) == "-1" || string(b) == "137" || string(b) == "12345678")
				if !ok {
					mu.Lock()
					bad = append(bad, string(b)+" "+errString(err))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 200 {
		if err := WriteAtomic(filepath.Join(dir, "cid"), []byte(values[i%len(values)]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("readers saw %d bad reads, e.g. %q", len(bad), bad[0])
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWriteAtomicErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	err := WriteAtomic(filepath.Join(missing, "exit"), []byte("1"), 0o644)
	if err == nil {
		t.Fatal("no error for a missing dir")
	}
	msg := err.Error()
	prefix := "Failed to create file “" + missing + "/exit."
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, "”: No such file or directory") ||
		len(msg) != len(prefix)+6+len("”: No such file or directory") {
		t.Errorf("error = %q, want GLib's %q + 6 chars + %q", msg, prefix, "”: No such file or directory")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not unwrap to ErrNotExist", err)
	}

	// The rename fails when the target is a non-empty directory; the temp
	// file must be removed again.
	if err := os.MkdirAll(filepath.Join(dir, "busy", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = WriteAtomic(filepath.Join(dir, "busy"), []byte("1"), 0o644)
	if err == nil || !strings.HasPrefix(err.Error(), "Failed to rename file “"+dir+"/busy.") ||
		!strings.Contains(err.Error(), "” to “"+dir+"/busy”: g_rename() failed: ") {
		t.Errorf("rename error = %v", err)
	}
	if names := listDir(t, dir); !reflect.DeepEqual(names, []string{"busy"}) {
		t.Errorf("dir holds %v after a failed rename, want only busy", names)
	}

	if err := WriteAtomic("", []byte("1"), 0o644); err == nil {
		t.Error("no error for an empty path")
	}
	if err := (Files{ExitDir: dir}).Write(1); err == nil {
		t.Error("no error for an exit dir without a container ID")
	}
}

func TestFilesWrite(t *testing.T) {
	persist, exitDir := t.TempDir(), t.TempDir()
	withUmask(t, 0o077, func() {
		f := Files{PersistDir: persist, ExitDir: exitDir, Cid: "abc"}
		for _, st := range []int{-1, 0, 3, 137} {
			if err := f.Write(st); err != nil {
				t.Fatal(err)
			}
			want := map[int]string{-1: "-1", 0: "0", 3: "3", 137: "137"}[st]
			checkFile(t, filepath.Join(persist, "exit"), want, 0o644)
			checkFile(t, filepath.Join(exitDir, "abc"), want, 0o644)
		}
	})
	if names := listDir(t, persist); !reflect.DeepEqual(names, []string{"exit"}) {
		t.Errorf("persist dir holds %v", names)
	}
	if names := listDir(t, exitDir); !reflect.DeepEqual(names, []string{"abc"}) {
		t.Errorf("exit dir holds %v", names)
	}
}

func TestFilesWriteOnlyConfigured(t *testing.T) {
	d := t.TempDir()
	if err := (Files{ExitDir: d, Cid: "c"}).Write(5); err != nil {
		t.Fatal(err)
	}
	if err := (Files{PersistDir: d, Cid: "c"}).Write(6); err != nil {
		t.Fatal(err)
	}
	if err := (Files{Cid: "c"}).Write(7); err != nil {
		t.Fatal(err)
	}
	checkFile(t, filepath.Join(d, "c"), "5", 0o644)
	checkFile(t, filepath.Join(d, "exit"), "6", 0o644)
}

// The persist file is published (renamed into place) before the exit-dir
// file: watch one directory holding both with inotify.
func TestFilesWriteOrder(t *testing.T) {
	d := t.TempDir()
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ifd)
	if _, err := unix.InotifyAddWatch(ifd, d, unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
		t.Fatal(err)
	}
	if err := (Files{PersistDir: d, ExitDir: d, Cid: "ctr"}).Write(0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Read(ifd, buf)
	if err != nil {
		t.Fatal(err)
	}
	var moved []string
	for off := 0; off < n; {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
		if ev.Mask&unix.IN_MOVED_TO != 0 {
			moved = append(moved, name)
		}
		off += unix.SizeofInotifyEvent + int(ev.Len)
	}
	if !reflect.DeepEqual(moved, []string{"exit", "ctr"}) {
		t.Errorf("files appeared in order %v, want [exit ctr]", moved)
	}
}

// conmon: if the persist file fails, it exits 1 before the exit-dir file.
func TestFilesWritePersistFailureStops(t *testing.T) {
	exitDir := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	err := (Files{PersistDir: missing, ExitDir: exitDir, Cid: "c"}).Write(3)
	want := "Failed to write 3 to container exit file: Failed to create file “" + missing + "/exit."
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "”: No such file or directory") {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error does not unwrap to ErrNotExist")
	}
	if names := listDir(t, exitDir); len(names) != 0 {
		t.Errorf("exit dir holds %v after a persist failure", names)
	}
}

func TestFilesWriteExitDirFailure(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	err := (Files{ExitDir: missing, Cid: "c"}).Write(-1)
	want := "Failed to write -1 to exit file: Failed to create file “" + missing + "/c."
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error = %v, want prefix %q", err, want)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		ws   unix.WaitStatus
		want int
	}{
		{"exit 0", 0, 0},
		{"exit 3", 3 << 8, 3},
		{"exit 255", 255 << 8, 255},
		{"SIGKILL", unix.WaitStatus(unix.SIGKILL), 137},
		{"SIGTERM", unix.WaitStatus(unix.SIGTERM), 143},
		{"SIGSEGV+core", unix.WaitStatus(unix.SIGSEGV) | 0x80, 139},
		{"stopped", 0x7f | unix.WaitStatus(unix.SIGSTOP)<<8, -1},
		{"continued", 0xffff, -1},
	} {
		if got := Status(tc.ws); got != tc.want {
			t.Errorf("%s: Status(%#x) = %d, want %d", tc.name, uint32(tc.ws), got, tc.want)
		}
	}
}

// The same encoding on real wait statuses from the kernel.
func TestStatusRealProcesses(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 42", 42},
		{"kill -KILL $$", 137},
		{"kill -TERM $$", 143},
	} {
		cmd := exec.Command("/bin/sh", "-c", tc.script)
		_ = cmd.Run()
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if got := Status(unix.WaitStatus(ws)); got != tc.want {
			t.Errorf("sh -c %q: Status = %d, want %d", tc.script, got, tc.want)
		}
	}
}

func TestDaemonStatus(t *testing.T) {
	for in, want := range map[int]int{-1: 255, 0: 0, 1: 1, 137: 137, 255: 255, 256: 0, 300: 44, -2: 254} {
		if got := DaemonStatus(in); got != want {
			t.Errorf("DaemonStatus(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestWriteAtomicPlantedTemp: a symlink, a FIFO or a directory at the
// temporary's name (a name guessed by whoever can write the exit dir) is a
// clash: nothing is written through it, the write goes on under the next
// name, and the planted entries are left as they were.
func TestWriteAtomicPlantedTemp(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "cid")
	plants := []struct {
		name   string
		create func(string) error
	}{
		{"symlink", func(p string) error { return os.Symlink(victim, p) }},
		{"dangling", func(p string) error { return os.Symlink(victim+".new", p) }},
		{"fifo", func(p string) error { return unix.Mkfifo(p, 0o600) }},
		{"dir", func(p string) error { return os.Mkdir(p, 0o700) }},
	}
	for _, pl := range plants {
		if err := pl.create(target + "." + pl.name); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	names := func(target string) string {
		i++
		if i <= len(plants) {
			return target + "." + plants[i-1].name
		}
		return target + ".fresh"
	}
	if err := writeAtomic(target, []byte("137"), 0o644, names); err != nil {
		t.Fatal(err)
	}
	checkFile(t, target, "137", 0o644)
	checkFile(t, victim, "precious", 0o600)
	if _, err := os.Lstat(victim + ".new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dangling symlink's target was created (%v)", err)
	}
	want := []string{"cid", "cid.dangling", "cid.dir", "cid.fifo", "cid.symlink"}
	if got := listDir(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("dir holds %v, want %v", got, want)
	}
}

// TestWriteOOMPlanted: an oom file that exists in any form counts as
// written: a symlink's target is neither created nor written.
func TestWriteOOMPlanted(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.Symlink(victim, filepath.Join(dir, "oom")); err != nil {
		t.Fatal(err)
	}
	if err := WriteOOM(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(victim); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("oom written through a symlink: %v", err)
	}
}

func TestWriteOOM(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	old := filepath.Join(b, "oom")
	if err := os.WriteFile(old, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	withUmask(t, 0o077, func() {
		if err := WriteOOM(a, "", b); err != nil {
			t.Fatal(err)
		}
		// A second OOM leaves both as they are.
		if err := WriteOOM(a, b); err != nil {
			t.Fatal(err)
		}
	})
	checkFile(t, filepath.Join(a, "oom"), "", 0o644)
	checkFile(t, old, "keep", 0o600)
}

func TestWriteOOMFailureDoesNotStopOthers(t *testing.T) {
	good := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing")
	err := WriteOOM(missing, good)
	want := "Failed to write oom file " + missing + "/oom: No such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	checkFile(t, filepath.Join(good, "oom"), "", 0o644)
}

func TestCommandArgv(t *testing.T) {
	args := []string{"--root", "", "container", "cleanup", "id"}
	c := Command{Path: "/usr/bin/podman", Args: args}
	want := []string{"/usr/bin/podman", "--root", "", "container", "cleanup", "id"}
	got := c.Argv()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Argv = %q, want %q", got, want)
	}
	got[1] = "changed"
	if args[0] != "--root" {
		t.Error("Argv aliases Args")
	}
	if got := (Command{Path: "rel/cmd"}).Argv(); !reflect.DeepEqual(got, []string{"rel/cmd"}) {
		t.Errorf("Argv without args = %q", got)
	}
}

// No path, failing or not, may leak a descriptor: the monitor lives as
// long as its container.
func TestNoFDLeak(t *testing.T) {
	d := t.TempDir()
	missing := filepath.Join(d, "missing")
	if err := os.MkdirAll(filepath.Join(d, "busy", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := testutil.OpenFds(t)
	for range 50 {
		_ = WriteAtomic(filepath.Join(d, "ok"), []byte("1"), 0o644)
		_ = WriteAtomic(filepath.Join(missing, "x"), []byte("1"), 0o644)
		_ = WriteAtomic(filepath.Join(d, "busy"), []byte("1"), 0o644)
		_ = (Files{PersistDir: d, ExitDir: d, Cid: "c"}).Write(1)
		_ = WriteOOM(d, missing)
	}
	if after := testutil.OpenFds(t); after != before {
		t.Errorf("open fds went from %d to %d", before, after)
	}
}
