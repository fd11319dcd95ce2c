package logs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Reopen starts a new log file (§10.5): by truncation, or with
// FileOptions.Rotate by rotation. On failure the old file stays open and in
// use, so logging goes on; the error is for the caller to warn about.
func (f *K8sLog) Reopen() error {
	if f.fd < 0 {
		return fmt.Errorf("reopen log %s: %w", f.path, os.ErrClosed)
	}
	if f.opts.Rotate {
		return f.rotate()
	}
	return f.truncate()
}

// truncate creates an empty "<path>.tmp" and renames it over the path, so a
// fresh file exists at once even when the old one was deleted or renamed
// away (CRI-O waits for it after kubelet's rotation). The global counter is
// not reset.
//
// The log's directory may be writable by others (the container's owner, a
// rootless user): a symlink or FIFO planted at "<path>.tmp" must not make us
// truncate and fill its target. So a stale name is removed first and the
// file is created with O_EXCL, which never follows a symlink; a name put
// back in between makes this reopen fail, and the old file stays in use.
func (f *K8sLog) truncate() error {
	tmp := f.tmpC
	if err := tmp.Unlink(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove stale %s: %w", tmp, err)
	}
	fd, err := f.openNewC(tmp, unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("create log %s: %w", tmp, err)
	}
	if err := tmp.RenameTo(f.absC); err != nil {
		unix.Close(fd)
		tmp.Unlink() // do not leave our temp file behind
		return fmt.Errorf("rename log %s: %w", tmp, err)
	}
	f.switchTo(fd)
	return nil
}

// switchTo makes fd the current file and closes the old one, which frees
// the slot for the spare fd if a reopen at the fd limit used it.
func (f *K8sLog) switchTo(fd int) {
	unix.Close(f.fd)
	f.fd = fd
	f.size = 0
	if f.spare < 0 {
		f.spare = reserveFd()
	}
}

// errSkipped marks a rotation that a safety check declined; the old file
// is kept and the next entry over the limit tries again.
var errSkipped = errors.New("rotation skipped")

// rotate performs conmon HEAD's six steps: path checks, write lock, check
// that the fd is still the path, exclusive "<path>.new" (a stale one removed
// first), shift the backups
// ".1" → ".2" … up to max(MaxFiles, 2), then "<path>" → ".1" and ".new" →
// "<path>". Any failing step leaves the current file in place.
func (f *K8sLog) rotate() error {
	if err := f.checkPath(); err != nil {
		return fmt.Errorf("rotate log %s: %w", f.path, err)
	}
	lock := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(uintptr(f.fd), unix.F_SETLK, &lock); err != nil {
		return fmt.Errorf("rotate log %s: lock: %w", f.path, err)
	}
	fd, err := f.rotateLocked()
	if err != nil {
		unlock := unix.Flock_t{Type: unix.F_UNLCK}
		unix.FcntlFlock(uintptr(f.fd), unix.F_SETLK, &unlock)
		return fmt.Errorf("rotate log %s: %w", f.path, err)
	}
	f.switchTo(fd) // closing the old fd drops its lock
	return nil
}

// rotateLocked does steps 3-6 and returns the new file's fd.
func (f *K8sLog) rotateLocked() (int, error) {
	if err := f.checkFdIsPath(); err != nil {
		return -1, err
	}
	next := f.abs + ".new"
	// A ".new" left behind (a crash between steps 4 and 6) or planted by
	// someone who can write the directory is removed first: conmon lets it
	// block every later rotation. O_EXCL never follows a symlink put back
	// in between; then this rotation fails and the old file stays in use.
	if err := unix.Unlink(next); err != nil && !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("remove stale %s: %w", next, err)
	}
	fd, err := f.openNew(next, unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return -1, fmt.Errorf("create %s: %w", next, err)
	}
	if err := f.shiftBackups(); err != nil {
		discard(fd, next)
		return -1, err
	}
	first := f.abs + ".1"
	if err := unix.Rename(f.abs, first); err != nil {
		discard(fd, next)
		return -1, fmt.Errorf("rename to %s: %w", first, err)
	}
	if err := unix.Rename(next, f.abs); err != nil {
		unix.Rename(first, f.abs) // put the current file back under its name
		discard(fd, next)
		return -1, fmt.Errorf("rename %s: %w", next, err)
	}
	return fd, nil
}

// discard closes and removes a ".new" file this rotation created, so that a
// stale one does not block every later rotation.
func discard(fd int, path string) {
	unix.Close(fd)
	unix.Unlink(path)
}

// shiftBackups renames <path>.(K-1) to <path>.K for K = max(N,2) down to 2.
// Missing sources are skipped; an existing target (the oldest) is replaced.
func (f *K8sLog) shiftBackups() error {
	for k := max(f.opts.MaxFiles, 2); k >= 2; k-- {
		from := f.abs + "." + strconv.Itoa(k-1)
		to := f.abs + "." + strconv.Itoa(k)
		if err := unix.Rename(from, to); err != nil && err != unix.ENOENT {
			return fmt.Errorf("rename %s: %w", from, err)
		}
	}
	return nil
}

// checkPath is step 1: no "../" or "/.." in the path as given; the
// directory the log really is in (symlinks resolved) must lie in one of the
// --log-allowlist-dir directories when any are given; an existing path must
// not be a symlink; for a missing one the parent directory must not be
// world-writable and must belong to root or to us.
//
// conmon HEAD consults the allowlist only for a path that does not exist,
// and such a path then fails step 3 anyway, so there it never refuses
// anything. Here it applies to every rotation: with an allowlist, files
// outside the allowed directories, however a symlink leads there, are
// never renamed.
func (f *K8sLog) checkPath() error {
	if strings.Contains(f.path, "../") || strings.Contains(f.path, "/..") {
		return fmt.Errorf("path contains '..': %w", errSkipped)
	}
	dir := filepath.Dir(f.abs)
	if len(f.opts.AllowlistDirs) > 0 && !inAllowlist(dir, f.opts.AllowlistDirs) {
		return fmt.Errorf("%s is not in an allowed directory (--log-allowlist-dir): %w", dir, errSkipped)
	}
	var st unix.Stat_t
	err := unix.Lstat(f.abs, &st)
	if err == nil {
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("path is a symlink: %w", errSkipped)
		}
		return nil
	}
	if err != unix.ENOENT {
		return fmt.Errorf("lstat: %w", err)
	}
	return f.checkParent(dir)
}

func (f *K8sLog) checkParent(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if st.Mode&0o002 != 0 {
		return fmt.Errorf("%s is world-writable: %w", dir, errSkipped)
	}
	if st.Uid != 0 && int(st.Uid) != os.Getuid() && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d: %w", dir, st.Uid, errSkipped)
	}
	return nil
}

// inAllowlist reports whether dir, resolved, is one of dirs or below one.
func inAllowlist(dir string, dirs []string) bool {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for _, d := range dirs {
		allowed, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		if resolved == allowed || strings.HasPrefix(resolved, strings.TrimSuffix(allowed, "/")+"/") {
			return true
		}
	}
	return false
}

// checkFdIsPath is step 3: the open fd must still be the file at the path
// (by /proc/self/fd name and by device and inode), otherwise someone moved
// the log away and rotating would rename an unrelated file.
func (f *K8sLog) checkFdIsPath() error {
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(f.fd))
	if err != nil {
		return fmt.Errorf("readlink fd %d: %w", f.fd, err)
	}
	resolved, err := filepath.EvalSymlinks(f.abs)
	if err != nil {
		return fmt.Errorf("realpath: %w", err)
	}
	if link != resolved {
		return fmt.Errorf("open file is now %s: %w", link, errSkipped)
	}
	var byFd, byPath unix.Stat_t
	if err := unix.Fstat(f.fd, &byFd); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if err := unix.Stat(f.abs, &byPath); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if byFd.Dev != byPath.Dev || byFd.Ino != byPath.Ino {
		return fmt.Errorf("open file is no longer the path: %w", errSkipped)
	}
	return nil
}
