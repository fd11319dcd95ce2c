// Package notify relays sd_notify messages from a container to the host's
// NOTIFY_SOCKET (§12.1, `--sdnotify-socket`). podman bind-mounts
// <bundle>/notify at /run/notify in the container and points the
// container's NOTIFY_SOCKET at the relay's socket there; the relay passes
// on only the state lines systemd should hear from the service. MAINPID is
// never among them: podman sends MAINPID=<monitor pid> itself, which is
// why the relay must live in the long-lived monitor process.
package notify

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"
)

// maxDatagram bounds one message from the container, as conmon's buffer.
const maxDatagram = 32 * 1024

// exact and prefixes form conmon HEAD's allowlist.
var (
	exact = [][]byte{
		[]byte("READY=1"), []byte("RELOADING=1"), []byte("STOPPING=1"),
		[]byte("WATCHDOG=1"), []byte("WATCHDOG=trigger"),
	}
	prefixes = [][]byte{
		[]byte("STATUS="), []byte("ERRNO="), []byte("BUSERROR="), []byte("MONOTONIC_USEC="),
	}
)

// Filter returns the allowed lines of msg joined with '\n', or nil if
// none is allowed. Lines end at CR or LF.
func Filter(msg []byte) []byte {
	var out []byte
	for len(msg) > 0 {
		i := bytes.IndexAny(msg, "\r\n")
		line := msg
		if i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		if !allowed(line) {
			continue
		}
		if out != nil {
			out = append(out, '\n')
		}
		out = append(out, line...)
	}
	return out
}

func allowed(line []byte) bool {
	for _, e := range exact {
		if bytes.Equal(line, e) {
			return true
		}
	}
	for _, p := range prefixes {
		if bytes.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// Logger receives the relay's warnings.
type Logger interface {
	Warnf(format string, args ...any)
}

// Relay owns the container-side socket and forwards what it receives.
type Relay struct {
	in   *os.File // the bound datagram socket, through the runtime poller
	out  int      // unbound datagram socket for sendto
	host *unix.SockaddrUnix
	lg   Logger
	done chan struct{}
}

// SocketPath is where the relay binds inside bundle.
func SocketPath(bundle string) string {
	return filepath.Join(bundle, "notify", "notify.sock")
}

// Start binds <bundle>/notify/notify.sock (mode 0777, so any user in the
// container may write) and forwards to host until Close. The notify dir
// must exist (podman creates it); otherwise binding fails, and the error
// text is conmon's, misleading as it is.
func Start(bundle, host string, lg Logger) (*Relay, error) {
	dir := filepath.Join(bundle, "notify")
	bs, err := cabi.BindUnix(dir, "notify.sock", unix.SOCK_DGRAM, 0o777, 0)
	if err != nil {
		return nil, fmt.Errorf("Failed to bind to console-socket %s", strerror.Text(err))
	}
	out, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		unix.Close(bs.Fd)
		return nil, fmt.Errorf("Failed to create notify socket %s", strerror.Text(err))
	}
	r := &Relay{
		in: os.NewFile(uintptr(bs.Fd), bs.Path), out: out,
		host: &unix.SockaddrUnix{Name: host}, lg: lg, done: make(chan struct{}),
	}
	go r.loop()
	return r, nil
}

func (r *Relay) loop() {
	defer close(r.done)
	buf := make([]byte, maxDatagram)
	warned := false
	for {
		n, err := r.in.Read(buf)
		if err == io.EOF {
			continue // an empty datagram: os.File reports a 0-byte read so
		}
		if err != nil {
			return // closed
		}
		msg := Filter(buf[:n])
		if msg == nil {
			continue
		}
		if err := unix.Sendto(r.out, msg, unix.MSG_DONTWAIT, r.host); err != nil && !warned {
			// Once: a host socket that is gone stays gone.
			warned = true
			r.lg.Warnf("Failed to send notification to %s %s", r.host.Name, strerror.Text(err))
		}
	}
}

// Close stops relaying and releases both sockets; the socket file stays.
func (r *Relay) Close() {
	r.in.Close()
	<-r.done
	unix.Close(r.out)
}
