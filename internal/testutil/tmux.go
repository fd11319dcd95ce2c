package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TmuxConfig says how to start a Tmux.
type TmuxConfig struct {
	Cols, Rows int
	// Dir holds the server's socket and config; it must be writable by
	// whoever Command runs tmux as. Empty: a fresh directory of the test's.
	Dir string
	// Command builds the tmux command (e.g. to run it as another user);
	// nil: exec.Command.
	Command func(name string, args ...string) *exec.Cmd
	// Diag, when set, adds to the failure of ExitStatus (e.g. a process list).
	Diag func() string
}

// Tmux is a terminal for a test: a tmux server of its own (its socket in
// Dir, so tests never share one) with one session "main" running a command.
// The pane stays after the command ends and shows "pane-exit=<status>".
type Tmux struct {
	t    testing.TB
	sock string
	cmd  func(name string, args ...string) *exec.Cmd
	diag func() string
}

// NewTmux starts shellCmd (an sh command line) in a detached
// Cols×Rows pane; the server is killed when the test ends.
func NewTmux(t testing.TB, c TmuxConfig, shellCmd string) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux not found (%v): run hack/install-deps.sh", err)
	}
	if c.Dir == "" {
		// Not t.TempDir(): its path grows with the test's name and a unix
		// socket path must fit in 108 bytes.
		d, err := os.MkdirTemp("", "shimtmux-")
		if err != nil {
			t.Fatalf("tmux dir: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		c.Dir = d
	}
	if c.Command == nil {
		c.Command = exec.Command
	}
	conf := filepath.Join(c.Dir, "tmux.conf")
	// The pane's shell prints the status: tmux's own #{pane_dead_status}
	// stays empty when the server misses the SIGCHLD (tmux 3.3a under load).
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g default-shell /bin/sh\n"), 0o644); err != nil {
		t.Fatalf("write %s: %v", conf, err)
	}
	x := &Tmux{t: t, sock: filepath.Join(c.Dir, "tmux.sock"), cmd: c.Command, diag: c.Diag}
	x.Run("-f", conf, "new-session", "-d", "-s", "main", "-x", strconv.Itoa(c.Cols), "-y", strconv.Itoa(c.Rows),
		shellCmd+`; echo "pane-exit=$?"`)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tmux pane at the end:\n%s", x.Screen())
		}
		x.cmd("tmux", "-S", x.sock, "kill-server").Run()
	})
	return x
}

// Run runs a tmux command against the server and returns its output; a
// failing command stops the test.
func (x *Tmux) Run(args ...string) string {
	x.t.Helper()
	out, err := x.cmd("tmux", append([]string{"-S", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Keys sends tmux key names (e.g. "C-p", "Enter") to the pane.
func (x *Tmux) Keys(keys ...string) {
	x.t.Helper()
	x.Run(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

// TypeLine types s literally (no key-name lookup), then Enter.
func (x *Tmux) TypeLine(s string) {
	x.t.Helper()
	x.Run("send-keys", "-t", "main", "-l", s)
	x.Keys("Enter")
}

// Screen returns the pane's text with its scroll-back, wrapped lines
// joined; "" when tmux cannot be asked (it is used in failure messages).
func (x *Tmux) Screen() string {
	out, _ := x.cmd("tmux", "-S", x.sock, "capture-pane", "-p", "-J", "-t", "main", "-S", "-1000").CombinedOutput()
	return string(out)
}

// WaitMatch waits up to 60 s until the pane shows re and returns the
// submatches of its last occurrence.
func (x *Tmux) WaitMatch(re string) []string {
	x.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	Eventually(x.t, 60*time.Second, fmt.Sprintf("%q in the tmux pane", re), func() bool {
		all := rx.FindAllStringSubmatch(x.Screen(), -1)
		if len(all) == 0 {
			return false
		}
		m = all[len(all)-1]
		return true
	})
	return m
}

// EnterUntil presses Enter every 200 ms, for up to 30 s, until the pane
// shows want.
func (x *Tmux) EnterUntil(want string) {
	x.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(x.Screen(), want) {
		if time.Now().After(deadline) {
			x.t.Fatalf("the pane never showed %q:\n%s", want, x.Screen())
		}
		x.Keys("Enter")
		time.Sleep(200 * time.Millisecond)
	}
}

// ExitStatus waits up to 60 s for the pane's command to end and returns
// its exit status.
func (x *Tmux) ExitStatus() int {
	x.t.Helper()
	re := regexp.MustCompile(`pane-exit=(\d+)`)
	var m []string
	// Every 50 ms: each look runs tmux.
	if !within(60*time.Second, 50*time.Millisecond, func() bool { m = re.FindStringSubmatch(x.Screen()); return m != nil }) {
		diag := ""
		if x.diag != nil {
			diag = "\n" + x.diag()
		}
		x.t.Fatalf("the command in the pane still runs after 60s; screen:\n%s%s", x.Screen(), diag)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Size is the pane's "rows cols", as stty size prints it.
func (x *Tmux) Size() string {
	x.t.Helper()
	return strings.TrimSpace(x.Run("display-message", "-p", "-t", "main", "#{pane_height} #{pane_width}"))
}

// Resize resizes the window (and so the pane) to cols×rows.
func (x *Tmux) Resize(cols, rows int) {
	x.t.Helper()
	x.Run("resize-window", "-t", "main", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows))
}
