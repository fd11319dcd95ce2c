package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
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

// listenAttach creates the SEQPACKET listener at <dir>/attach, owner-only
// (the engine runs as the same user). dir may be longer than sun_path and
// may be the socket-dir symlink (cabi.BindUnix).
func listenAttach(dir string) (*os.File, error) {
	s, err := cabi.BindUnix(dir, attachName, unix.SOCK_SEQPACKET, 0o700, attachBacklog)
	if err != nil {
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	// Non-blocking, so os.NewFile puts it under the runtime poller and
	// Close wakes a pending accept.
	return os.NewFile(uintptr(s.Fd), s.Path), nil
}
