package attach

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// longDir makes a directory whose path is at least n bytes long.
func longDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for len(dir) < n {
		dir = filepath.Join(dir, strings.Repeat("d", 50))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLongBundlePath(t *testing.T) {
	bundle := longDir(t, 250)
	s, _ := newServer(t, Options{Bundle: bundle, FullAttach: true})
	if len(s.Path()) <= sunPathMax {
		t.Fatalf("path only %d bytes", len(s.Path()))
	}
	c := connect(t, s, bundle)
	s.Broadcast(stream.Stdout, []byte("long"))
	if d := readDatagram(t, c); string(d) != "\x02long" {
		t.Fatalf("got %q", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("socket still there after Unlink: %v", err)
	}
	if err := s.Unlink(); err != nil {
		t.Fatalf("second Unlink: %v", err)
	}
}

func TestSymlinkMode(t *testing.T) {
	bundle, sockDir := t.TempDir(), t.TempDir()
	stale := filepath.Join(sockDir, "cuuid-1")
	if err := os.Symlink("/nonexistent", stale); err != nil {
		t.Fatal(err)
	}
	s, _ := newServer(t, Options{Bundle: bundle, SocketDir: sockDir + "/", Cuuid: "cuuid-1"})
	if s.SymlinkPath() != stale {
		t.Fatalf("symlink %q, want %q", s.SymlinkPath(), stale)
	}
	if target, _ := os.Readlink(stale); target != bundle {
		t.Fatalf("symlink points to %q, want %q", target, bundle)
	}
	if s.Path() != filepath.Join(bundle, "attach") {
		t.Fatalf("socket at %q, want it in the bundle", s.Path())
	}
	// CRI-O connects through the symlink.
	c := connect(t, s, stale)
	s.Broadcast(stream.Stderr, []byte("via link"))
	if d := readDatagram(t, c); string(d) != "\x03via link" {
		t.Fatalf("got %q", d)
	}
	s.Close()
	s.Unlink()
	if err := s.RemoveSymlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Fatalf("symlink still there: %v", err)
	}
	if err := s.RemoveSymlink(); err != nil {
		t.Fatalf("second RemoveSymlink: %v", err)
	}
}

func TestRemoveSymlinkLeavesForeignLink(t *testing.T) {
	bundle, sockDir := t.TempDir(), t.TempDir()
	s, _ := newServer(t, Options{Bundle: bundle, SocketDir: sockDir, Cuuid: "u"})
	link := s.SymlinkPath()
	os.Remove(link)
	os.Symlink("/other/bundle", link)
	if err := s.RemoveSymlink(); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(link); target != "/other/bundle" {
		t.Fatalf("foreign symlink removed or changed: %q", target)
	}
}

func TestSymlink107Rule(t *testing.T) {
	for _, extra := range []int{-1, 0, 1} {
		sockDir := t.TempDir()
		cuuid := strings.Repeat("u", sunPathMax-1-len(sockDir)-1+extra)
		full := sockDir + "/" + cuuid
		want := full
		if len(full) == 107 {
			want = full[:106]
		}
		s, _ := newServer(t, Options{Bundle: t.TempDir(), SocketDir: sockDir, Cuuid: cuuid})
		if s.SymlinkPath() != want {
			t.Fatalf("name of %d bytes: symlink %d bytes, want %d", len(full), len(s.SymlinkPath()), len(want))
		}
		if _, err := os.Lstat(want); err != nil {
			t.Fatalf("%d bytes: %v", len(full), err)
		}
		if want != full {
			if _, err := os.Lstat(full); !os.IsNotExist(err) {
				t.Fatalf("untruncated 107-byte name exists: %v", err)
			}
		}
		connect(t, s, want)
	}
}

func TestBuildFilename(t *testing.T) {
	for _, tt := range []struct{ dir, name, want string }{
		{"/var/run/crio", "id", "/var/run/crio/id"},
		{"/var/run/crio/", "id", "/var/run/crio/id"},
		{"/var/run/crio//", "/id", "/var/run/crio/id"},
		{"/", "id", "/id"},
		{"", "id", "id"},
		{"/a/./b", "id", "/a/./b/id"}, // no other normalisation, like GLib
	} {
		if got := buildFilename(tt.dir, tt.name); got != tt.want {
			t.Errorf("buildFilename(%q, %q) = %q, want %q", tt.dir, tt.name, got, tt.want)
		}
	}
}

func TestListenErrors(t *testing.T) {
	t.Run("symlink cannot be created", func(t *testing.T) {
		_, err := Listen(Options{Bundle: t.TempDir(), SocketDir: "/nonexistent/dir", Cuuid: "x"})
		if err == nil || !strings.Contains(err.Error(), "Failed to create symlink for notify socket") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("existing socket cannot be removed", func(t *testing.T) {
		bundle := t.TempDir()
		os.MkdirAll(filepath.Join(bundle, "attach", "busy"), 0o755)
		_, err := Listen(Options{Bundle: bundle, FullAttach: true})
		if err == nil || !strings.Contains(err.Error(), "Failed to remove existing socket") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("symlink removed when bind fails", func(t *testing.T) {
		bundle, sockDir := t.TempDir(), t.TempDir()
		os.MkdirAll(filepath.Join(bundle, "attach", "busy"), 0o755)
		_, err := Listen(Options{Bundle: bundle, SocketDir: sockDir, Cuuid: "x"})
		if err == nil {
			t.Fatal("Listen succeeded")
		}
		if _, err := os.Lstat(filepath.Join(sockDir, "x")); !os.IsNotExist(err) {
			t.Fatalf("symlink left behind after a failed Listen: %v", err)
		}
	})
	t.Run("no cuuid", func(t *testing.T) {
		if _, err := Listen(Options{Bundle: t.TempDir(), SocketDir: t.TempDir()}); err == nil {
			t.Fatal("Listen without cuuid and without FullAttach succeeded")
		}
	})
}

func TestStaleSocketReplaced(t *testing.T) {
	bundle := t.TempDir()
	os.WriteFile(filepath.Join(bundle, "attach"), []byte("stale"), 0o644)
	s, _ := newServer(t, Options{Bundle: bundle, FullAttach: true})
	connect(t, s, bundle)
}

// TestNoDescriptorOrGoroutineLeak runs a full Listen / connect / traffic /
// Close / Unlink cycle and checks that the process is back where it began.
func TestNoDescriptorOrGoroutineLeak(t *testing.T) {
	cycle := func() {
		sink := &sinkRecorder{}
		s, err := Listen(Options{Bundle: t.TempDir(), SocketDir: t.TempDir(), Cuuid: "leak",
			Stdin: true, Input: sink, CloseStdin: func() {}})
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := connect(t, s, s.SymlinkPath()), connect(t, s, s.SymlinkPath()), connect(t, s, s.SymlinkPath())
		a.Write([]byte("in"))
		testutil.Eventually(t, 5*time.Second, "input", func() bool { return len(sink.get()) == 1 })
		b.CloseWrite() // closes stdin for everyone
		s.Broadcast(stream.Stdout, pattern(0, 100000))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, conn := range []interface{ Close() error }{a, b, c} {
			conn.Close()
		}
		s.Unlink()
		s.RemoveSymlink()
	}
	cycle() // warm up the runtime poller and the pools
	fds, goroutines := testutil.OpenFds(t), runtime.NumGoroutine()
	cycle()
	if got := testutil.OpenFds(t); got != fds {
		t.Fatalf("descriptors: %d before, %d after", fds, got)
	}
	testutil.Within(2*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines })
	if got := runtime.NumGoroutine(); got > goroutines {
		t.Fatalf("goroutines: %d before, %d after", goroutines, got)
	}
}
