package integration

// Rootless podman: the same scenarios as root, run by an unprivileged user
// (hack/make-user.sh: default shimtest, with subordinate ID ranges and its
// XDG_RUNTIME_DIR) with images in its own store under its home. The test
// binary runs as root and starts every podman as that user directly (setuid
// in the child, no runuser/sudo in between), so a killed *exec.Cmd is the
// podman process itself.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// rlUser is the unprivileged user and what it needs to run podman; its
// podman (the embedded runner) runs as the user.
type rlUser struct {
	*podman
	name   string
	uid    int
	gid    int
	groups []uint32
	home   string
	runDir string // its XDG_RUNTIME_DIR
	dir    string // readable by the user: the monitor copy, containers.conf
}

var (
	rlOnce sync.Once
	rlErr  error
	rlU    *rlUser
)

// setupRootless creates (when missing) the user, its subordinate ID ranges,
// its runtime dir and the test image in its store; once per test binary run.
func setupRootless(t *testing.T) *rlUser {
	t.Helper()
	setup(t)
	rlOnce.Do(func() { rlU, rlErr = newRootless(envOr("SHIM_ROOTLESS_USER", "shimtest")) })
	if rlErr != nil {
		t.Fatal(rlErr)
	}
	return rlU
}

func newRootless(name string) (*rlUser, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("podman not found (%v): run hack/install-deps.sh", err)
	}
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "make-user.sh"), name).Output()
	if err != nil {
		return nil, fmt.Errorf("hack/make-user.sh %s: %v\n%s", name, err, rlStderr(err))
	}
	u := &rlUser{name: name}
	u.podman = &podman{user: u, bin: bin}
	if _, err := fmt.Sscan(string(out), &u.uid, &u.gid, &u.home, &u.runDir); err != nil {
		return nil, fmt.Errorf("hack/make-user.sh printed %q: %v", out, err)
	}
	acct, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	gids, err := acct.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("group id %q of %s: %w", g, name, err)
		}
		u.groups = append(u.groups, uint32(n))
	}

	// The user must reach what it runs: workDir is root's private temp dir,
	// so let others traverse it (not list it), and copy the monitor and the
	// config into it: the checkout may lie under a directory only root can
	// enter (CI clones anywhere).
	if err := os.Chmod(workDir, 0o711); err != nil {
		return nil, err
	}
	u.dir = filepath.Join(workDir, "rootless")
	if err := os.MkdirAll(filepath.Join(u.dir, "bin"), 0o755); err != nil {
		return nil, err
	}
	u.mon = filepath.Join(u.dir, "bin", filepath.Base(shimBin))
	if err := rlCopyFile(shimBin, u.mon, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(u.dir, "containers.conf")
	if err := rlCopyFile(filepath.Join(repoRoot, "hack", "containers.conf"), conf, 0o644); err != nil {
		return nil, err
	}
	u.env = []string{
		"HOME=" + u.home, "USER=" + name, "LOGNAME=" + name,
		"XDG_RUNTIME_DIR=" + u.runDir,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"CONTAINERS_CONF=" + conf,
	}
	// The user's default store (in its home) and runroot (in its runtime dir).
	u.opts = []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	if out, err := u.command("test", "-x", u.mon, "-a", "-r", conf, "-a", "-r", rootfs+"/bin/busybox").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("user %s cannot read %s (%v): a parent directory is private? %s", name, u.dir, err, out)
	}
	if err := u.importImage(); err != nil {
		return nil, err
	}
	u.removeLeftovers()
	return u, nil
}

// importImage puts the busybox rootfs (setup's) into the user's own store.
func (u *rlUser) importImage() error {
	if u.cmd("image", "exists", testImage).Run() == nil {
		return nil
	}
	tarball := filepath.Join(u.dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar %s: %v\n%s", rootfs, err, out)
	}
	defer os.Remove(tarball)
	if err := os.Chmod(tarball, 0o644); err != nil {
		return err
	}
	// The same image as hack/make-image.sh makes for root.
	imp := u.cmd("import", "--quiet", "--change", `CMD ["/bin/sh"]`,
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		tarball, testImage)
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("podman import as %s: %v\n%s", u.name, err, out)
	}
	return nil
}

func rlCopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, tmp, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func rlStderr(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// command runs name as the user, with its environment, in a directory it
// can read.
func (u *rlUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{}, u.env...)
	cmd.Dir = u.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: u.groups},
	}
	return cmd
}

// rlProcUIDs returns the real, effective, saved and fs uid of pid as the
// initial user namespace sees them.
func rlProcUIDs(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" {
			var ids []int
			for _, s := range f[1:] {
				n, _ := strconv.Atoi(s)
				ids = append(ids, n)
			}
			return ids
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return nil
}

// tempDir returns a fresh directory owned by the user (mode 0700) inside
// u.dir, removed when the test ends.
func (u *rlUser) tempDir(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	dir := filepath.Join(u.dir, "t-"+hex.EncodeToString(b))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// checkPrivate fails unless path exists with exactly mode want (permission
// bits), has the file type typ (0 = regular file), and belongs to the user.
func (u *rlUser) checkPrivate(t *testing.T, path string, typ, want os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Type() != typ {
		t.Errorf("%s: type %v, want %v", path, fi.Mode().Type(), typ)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s: mode %#o, want %#o", path, fi.Mode().Perm(), want)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		t.Errorf("%s is world-writable (%#o)", path, fi.Mode().Perm())
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != u.uid {
		t.Errorf("%s: owner uid %d, want %d (%s)", path, st.Uid, u.uid, u.name)
	}
}
