package cabi

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// BoundSocket is a unix socket made by BindUnix.
type BoundSocket struct {
	Fd       int    // non-blocking and close-on-exec
	Path     string // dir/name, for messages (it may exceed sun_path)
	Dev, Ino uint64 // the socket file's identity, so cleanup removes only ours
}

// BindUnix creates an AF_UNIX socket of sotype (unix.SOCK_STREAM,
// SOCK_SEQPACKET or SOCK_DGRAM) bound at dir/name, chmods the socket file to
// mode and, when backlog > 0, listens. A stale file at that name is removed
// first.
//
// It binds through /proc/self/fd/<dirfd>/name: bundle paths are often longer
// than sun_path (108 bytes), and engines connect the same way. dir may be a
// symlink (the socket-dir one), which the O_PATH open follows. On failure
// nothing is left behind: no fd and no socket file.
func BindUnix(dir, name string, sotype int, mode uint32, backlog int) (BoundSocket, error) {
	s := BoundSocket{Fd: -1, Path: filepath.Join(dir, name)}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return s, fmt.Errorf("open socket dir %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return s, fmt.Errorf("Failed to remove existing socket %s: %w", s.Path, err) // conmon's text (§8.1)
	}
	fd, err := unix.Socket(unix.AF_UNIX, sotype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return s, fmt.Errorf("create socket %s: %w", s.Path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + name}); err != nil {
		unix.Close(fd)
		return s, fmt.Errorf("bind socket %s: %w", s.Path, err)
	}
	// The umask leaves nobody else write access, so nobody else can connect
	// before the chmod.
	st, err := chmodSocketAt(dfd, name, mode)
	if err != nil {
		err = fmt.Errorf("chmod socket %s: %w", s.Path, err)
	} else if backlog > 0 {
		if err = unix.Listen(fd, backlog); err != nil {
			err = fmt.Errorf("listen on socket %s: %w", s.Path, err)
		}
	}
	if err != nil {
		_ = unix.Unlinkat(dfd, name, 0) // do not leave a dead socket file
		unix.Close(fd)
		return s, err
	}
	s.Fd, s.Dev, s.Ino = fd, st.Dev, st.Ino
	return s, nil
}

// errNotSocket: the name no longer holds a socket when its mode is set.
var errNotSocket = errors.New("not a socket")

// chmodSocketAt sets the mode of the socket file dirfd/name and returns its
// identity. The directory may be writable by others (a container writes
// into <bundle>/notify), who could swap the socket for a symlink between
// bind and chmod: chmod(2) would follow it and give, say, /etc/shadow mode
// 0777. So the name is opened O_PATH|O_NOFOLLOW, must be a socket, and the
// mode goes through that fd (/proc/self/fd/N reaches the inode itself;
// fchmod does not work on O_PATH fds, fchmodat's AT_SYMLINK_NOFOLLOW
// needs Linux 6.6).
func chmodSocketAt(dfd int, name string, mode uint32) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return st, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return st, fmt.Errorf("file type %#o: %w", st.Mode&unix.S_IFMT, errNotSocket)
	}
	return st, unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
}
