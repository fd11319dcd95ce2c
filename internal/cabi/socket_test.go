package cabi

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// longDir is a directory whose path is longer than sun_path.
func longDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 100), strings.Repeat("e", 100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBindUnixLongPath(t *testing.T) {
	dir := longDir(t)
	// A stale file of that name is replaced.
	if err := os.WriteFile(filepath.Join(dir, "s.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := BindUnix(dir, "s.sock", unix.SOCK_STREAM, 0o600, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s.Fd)
	if s.Path != filepath.Join(dir, "s.sock") {
		t.Errorf("Path %q", s.Path)
	}
	var st unix.Stat_t
	if err := unix.Stat(s.Path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != 0o600 || st.Dev != s.Dev || st.Ino != s.Ino {
		t.Errorf("socket file mode %o dev/ino %d/%d, want a 0600 socket %d/%d", st.Mode, st.Dev, st.Ino, s.Dev, s.Ino)
	}
	flags, err := unix.FcntlInt(uintptr(s.Fd), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Errorf("socket not non-blocking (%#x, %v)", flags, err)
	}
	// It listens: a client connects through the same /proc path trick.
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(c)
	if err := unix.Connect(c, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/s.sock"}); err != nil {
		t.Errorf("connect: %v", err)
	}
}

func TestBindUnixDatagramNoListen(t *testing.T) {
	s, err := BindUnix(longDir(t), "n.sock", unix.SOCK_DGRAM, 0o777, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s.Fd)
	fi, err := os.Stat(s.Path)
	if err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("datagram socket file %v, %v; want mode 0777", fi, err)
	}
}

func TestBindUnixFailures(t *testing.T) {
	_, err := BindUnix(filepath.Join(t.TempDir(), "missing"), "s", unix.SOCK_STREAM, 0o600, 1)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing dir: %v, want ENOENT", err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s", "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = BindUnix(dir, "s", unix.SOCK_STREAM, 0o600, 1)
	if err == nil || !strings.Contains(err.Error(), "Failed to remove existing socket "+filepath.Join(dir, "s")) {
		t.Errorf("non-empty dir in the way: %v", err)
	}
	// A failure after bind removes the socket file again: SOCK_DGRAM
	// cannot listen.
	_, err = BindUnix(dir, "d", unix.SOCK_DGRAM, 0o600, 1)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("listen on a datagram socket: %v", err)
	}
	if _, serr := os.Lstat(filepath.Join(dir, "d")); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("socket file left after a failure (%v)", serr)
	}
}

// TestChmodSocketAtRefusesSwappedName: what is at the socket's name when
// its mode is set may have been swapped since bind. A symlink is not
// followed (its target keeps its mode), and nothing but a socket is chmodded.
func TestChmodSocketAtRefusesSwappedName(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	for name, create := range map[string]func(string) error{
		"symlink":   func(p string) error { return os.Symlink(victim, p) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"fifo":      func(p string) error { return unix.Mkfifo(p, 0o600) },
		"file":      func(p string) error { return os.WriteFile(p, nil, 0o600) },
	} {
		if err := create(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		_, err := chmodSocketAt(dfd, name, 0o777)
		if err == nil {
			t.Errorf("%s: chmodded, want a refusal", name)
		}
		for _, p := range []string{victim, filepath.Join(dir, name)} {
			if fi, err := os.Lstat(p); err != nil || (fi.Mode()&os.ModeSymlink == 0 && fi.Mode().Perm() == 0o777) {
				t.Errorf("%s: %s now has mode %v (%v)", name, p, fi.Mode(), err)
			}
		}
	}
}
