package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	attachName    = "attach"
	attachBacklog = 10
	// sunPathMax is sizeof(sockaddr_un.sun_path) on Linux.
	sunPathMax = 108
)

// buildFilename joins like GLib's g_build_filename for two elements, which is
// what conmon measures for the 107-byte rule: one separator at the seam,
// nothing else normalised.
func buildFilename(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimRight(dir, "/") + "/" + strings.TrimLeft(name, "/")
}

// symlinkName is <socket-dir>/<cuuid>, shortened by one byte when it is
// exactly 107 bytes long: conmon does this because such a name can collide
// with the socket path length limit (§8.1), and CRI-O expects it.
func symlinkName(socketDir, cuuid string) string {
	name := buildFilename(socketDir, cuuid)
	if len(name) == sunPathMax-1 {
		name = name[:sunPathMax-2]
	}
	return name
}

// createSymlink points <socket-dir>/<cuuid> at the bundle, replacing a stale
// entry. The target is made absolute: a relative one would resolve against
// the socket dir and dangle.
func createSymlink(socketDir, cuuid, bundle string) (name, target string, err error) {
	name = symlinkName(socketDir, cuuid)
	if target, err = filepath.Abs(bundle); err != nil {
		return "", "", fmt.Errorf("resolve bundle %s: %w", bundle, err)
	}
	if err := unix.Unlink(name); err != nil && !errors.Is(err, unix.ENOENT) {
		return "", "", fmt.Errorf("remove stale attach symlink %s: %w", name, err)
	}
	if err := unix.Symlink(target, name); err != nil {
		// Misleading, but the exact text of §8.1 (conmon's).
		return "", "", fmt.Errorf("Failed to create symlink for notify socket %s: %w", name, err)
	}
	return name, target, nil
}

// listenAttach creates the SEQPACKET listener at <dir>/attach. It binds
// through /proc/self/fd/<dirfd>/attach so that a bundle path longer than
// sun_path still works (podman connects the same way); dir may be the
// socket-dir symlink, which the O_PATH open follows.
func listenAttach(dir string) (*os.File, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open attach socket dir %s: %w", dir, err)
	}
	defer unix.Close(dfd)

	path := filepath.Join(dir, attachName)
	if err := unix.Unlinkat(dfd, attachName, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("Failed to remove existing socket %s: %w", path, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("create attach socket: %w", err)
	}
	if err := bindListen(fd, dfd, path); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// Non-blocking, so os.NewFile puts it under the runtime poller and
	// Close wakes a pending accept.
	return os.NewFile(uintptr(fd), path), nil
}

func bindListen(fd, dfd int, path string) error {
	procPath := "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + attachName
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: procPath}); err != nil {
		return fmt.Errorf("bind attach socket %s: %w", path, err)
	}
	// Only the owner (the engine runs as the same user) may connect.
	err := unix.Fchmodat(dfd, attachName, 0o700, 0)
	if err != nil {
		err = fmt.Errorf("chmod attach socket %s: %w", path, err)
	} else if err = unix.Listen(fd, attachBacklog); err != nil {
		err = fmt.Errorf("listen on attach socket %s: %w", path, err)
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, attachName, 0) // do not leave a dead socket file
	}
	return err
}
