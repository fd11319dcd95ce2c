package exitcode

import (
	"errors"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
)

// fileMode is the mode of exit and oom files: what conmon HEAD produces
// under its forced umask 022 (§3.1), independent of the caller's umask.
const fileMode = 0o644

// Files names the exit files of one container or exec session (§11.1 step 6).
// An empty dir means that file is not written.
type Files struct {
	PersistDir string // --persist-dir: <PersistDir>/exit
	ExitDir    string // --exit-dir: <ExitDir>/<Cid>
	Cid        string // --cid, also for exec sessions
	// Bundle gets exit.json (WriteRecord) besides PersistDir; "" for exec
	// sessions, whose -b is the container's bundle.
	Bundle string
}

// Write records status (decimal, no newline) in <persist-dir>/exit, then in
// <exit-dir>/<cid>. The order matters: CRI-O reacts to the exit-dir file
// (inotify) by reading the persist file, so that one must be complete first.
// If the persist file cannot be written the exit-dir file is not attempted
// (conmon exits 1 at that point). Error texts are conmon's.
func (f Files) Write(status int) error {
	s := strconv.Itoa(status)
	if f.PersistDir != "" {
		if err := WriteAtomic(filepath.Join(f.PersistDir, "exit"), []byte(s), fileMode); err != nil {
			return prefixed("Failed to write "+s+" to container exit file: ", err)
		}
	}
	if f.ExitDir != "" {
		if f.Cid == "" { // conmon refuses to start without one
			return prefixed("Failed to write "+s+" to exit file: ", errors.New("no container ID"))
		}
		if err := WriteAtomic(filepath.Join(f.ExitDir, f.Cid), []byte(s), fileMode); err != nil {
			return prefixed("Failed to write "+s+" to exit file: ", err)
		}
	}
	return nil
}

// prefixed is conmon's "<what>: <cause>" for a failed write, unwrapping to
// the cause.
func prefixed(prefix string, err error) error {
	return cabi.NewError(prefix+err.Error(), err)
}

// Status encodes a wait status as conmon does (§11.2): the exit code, or
// 128+signal when killed; anything else (stopped, continued) is unknown, -1.
// The timeout and ECHILD cases (-1, 0) are decided by the caller.
func Status(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return -1
}

// DaemonStatus is the monitor's own exit status for a container status:
// the value modulo 256 as exit(2) truncates it, so -1 becomes 255 (§11.6).
func DaemonStatus(status int) int {
	return status & 0xff
}

// WriteOOM creates an empty "oom" file in each non-empty dir (§11.3:
// <persist-dir>/oom and <bundle>/oom). A file that already exists is left
// untouched, content and mode; a new one gets mode 0644 whatever the umask.
// Every dir is tried; the failures are joined.
func WriteOOM(dirs ...string) error {
	var errs []error
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if err := touch(filepath.Join(dir, "oom")); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func touch(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, fileMode)
	if err == unix.EEXIST {
		return nil
	}
	if err != nil {
		return glibError("Failed to write oom file "+path+": ", err)
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, fileMode); err != nil {
		return glibError("Failed to write oom file "+path+": ", err)
	}
	return nil
}
