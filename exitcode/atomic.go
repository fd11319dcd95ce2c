// Package exitcode writes the files that tell engines a container has
// stopped (exit, oom) and describes the exit command (§11).
package exitcode

import (
	"errors"
	"math/rand/v2"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"
)

// WriteAtomic writes content to path so that no reader ever sees a
// partial file: the bytes go to a temporary file next to the target, which
// is then renamed over it (engines treat the file's mere existence as
// "exited" and Atoi the whole content).
//
// It follows GLib's g_file_set_contents, which conmon uses: the temporary is
// "<target>.XXXXXX" (six random alphanumerics, O_EXCL) and error texts are
// GLib's, so "Failed to write N to exit file: <this error>" reads as
// conmon's. The file is fsynced only when it replaces a non-empty file, as
// GLib does: rename alone already guarantees atomicity for every reader on
// the running system, and an fsync on each container exit would add disk
// latency to the path the engines time (§11.1 "Latency") for a gain that
// only matters after a power loss — when, as with conmon, a new exit file
// may be lost but an old one is never replaced by an empty one.
//
// mode is applied with fchmod, so the result does not depend on the umask.
//
// It serves the exit files and the conmon pidfile (-P), which conmon writes
// the same way.
func WriteAtomic(path string, content []byte, mode os.FileMode) error {
	return writeAtomic(path, content, mode, randomTempName)
}

// writeAtomic is WriteAtomic with the temporary's names drawn from name
// (tests plant things at the names it gives).
func writeAtomic(path string, content []byte, mode os.FileMode, name func(target string) string) error {
	if path == "" {
		return errors.New("empty file name")
	}
	tmp, fd, err := createTemp(path, name)
	if err != nil {
		return err
	}
	if err := writeAll(fd, tmp, content, needsSync(path)); err != nil {
		unix.Unlink(tmp)
		return err
	}
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		unix.Close(fd)
		unix.Unlink(tmp)
		return glibError("Failed to write file “"+tmp+"”: fchmod() failed: ", err)
	}
	if err := unix.Close(fd); err != nil {
		unix.Unlink(tmp)
		return glibError("", err) // g_close reports only the strerror
	}
	if err := unix.Rename(tmp, path); err != nil {
		unix.Unlink(tmp)
		return glibError("Failed to rename file “"+tmp+"” to “"+path+"”: g_rename() failed: ", err)
	}
	return nil
}

const tempChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomTempName is target.XXXXXX with six random alphanumerics.
func randomTempName(target string) string {
	b := []byte(target + ".XXXXXX")
	for i := len(b) - 6; i < len(b); i++ {
		b[i] = tempChars[rand.IntN(len(tempChars))]
	}
	return string(b)
}

// createTemp creates a temporary named by name exclusively, retrying on
// name clashes like g_mkstemp (which gives up after 100 tries). The exit
// dir may be writable by others: whatever is found at a name (a symlink,
// a FIFO, a stale temporary) is a clash and left alone. O_EXCL never
// follows a symlink; O_NOFOLLOW says so once more.
func createTemp(target string, name func(string) string) (string, int, error) {
	var err error
	for range 100 {
		tmp := name(target)
		var fd int
		fd, err = unix.Open(tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
		if err == nil {
			return tmp, fd, nil
		}
		if err != unix.EEXIST {
			return "", -1, glibError("Failed to create file “"+tmp+"”: ", err)
		}
	}
	return "", -1, glibError("Failed to create file “"+target+".XXXXXX”: ", err)
}

// needsSync mirrors GLib's rule: sync only when replacing a non-empty file.
func needsSync(target string) bool {
	var st unix.Stat_t
	return unix.Lstat(target, &st) == nil && st.Size > 0
}

// writeAll writes content in a loop and optionally fsyncs; on failure fd is
// closed.
func writeAll(fd int, tmp string, content []byte, sync bool) error {
	for len(content) > 0 {
		n, err := unix.Write(fd, content)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return glibError("Failed to write file “"+tmp+"”: write() failed: ", err)
		}
		content = content[n:]
	}
	if sync {
		if err := unix.Fsync(fd); err != nil {
			unix.Close(fd)
			return glibError("Failed to write file “"+tmp+"”: fsync() failed: ", err)
		}
	}
	return nil
}

// glibError renders as GLib's message (prefix + glibc strerror) and unwraps
// to the errno, so callers can still use errors.Is(err, fs.ErrNotExist).
func glibError(prefix string, errno error) error {
	return cabi.NewError(prefix+strerror.Text(errno), errno)
}
