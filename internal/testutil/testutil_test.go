package testutil

import (
	"os"
	"os/exec"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWithin(t *testing.T) {
	n := 0
	if !Within(time.Second, func() bool { n++; return n == 3 }) {
		t.Fatal("a condition that holds on the third look timed out")
	}
	if n != 3 {
		t.Fatalf("cond ran %d times, want 3", n)
	}
	t0 := time.Now()
	if Within(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported as holding")
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("gave up after %v, before the 30ms timeout", d)
	}
}

func TestOpenFds(t *testing.T) {
	before := OpenFds(t)
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if got := OpenFds(t); got != before+1 {
		t.Errorf("with one more file open: %d fds, want %d", got, before+1)
	}
	f.Close()
	if got := OpenFds(t); got != before {
		t.Errorf("after closing it: %d fds, want %d", got, before)
	}
}

// What ShellJoin makes, sh splits back into the same words.
func TestShellJoin(t *testing.T) {
	words := []string{"a b", "it's", `"q"`, "$HOME", "", `back\slash`, "new\nline"}
	out, err := exec.Command("sh", "-c", `for w in `+ShellJoin(words...)+`; do printf '[%s]' "$w"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, w := range words {
		want += "[" + w + "]"
	}
	if string(out) != want {
		t.Fatalf("sh read %q, want %q", out, want)
	}
	if got := ShellQuote("it's"); got != `'it'\''s'` {
		t.Fatalf("ShellQuote(it's) = %s", got)
	}
}

func TestTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux (hack/install-deps.sh installs it)")
	}
	x := NewTmux(t, TmuxConfig{Cols: 90, Rows: 20}, `read a; echo "got-$a"; (exit 4)`)
	if got := x.Size(); got != "20 90" {
		t.Errorf("pane size %q, want \"20 90\"", got)
	}
	x.TypeLine("it's")
	if m := x.WaitMatch(`got-(\S+)`); m[1] != "it's" {
		t.Errorf("the pane read %q, want \"it's\"", m[1])
	}
	if got := x.ExitStatus(); got != 4 {
		t.Errorf("exit status %d, want 4", got)
	}
}

// A spec survives EditSpec: fields not edited keep their values, the edit
// lands.
func TestEditSpec(t *testing.T) {
	path := t.TempDir() + "/config.json"
	in := `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"},"hostname":"h",` +
		`"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EditSpec(path, func(s *specs.Spec) { s.Process.Args = []string{"true"}; s.Process.Terminal = true }); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSpec(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Process.Args) != 1 || s.Process.Args[0] != "true" || !s.Process.Terminal {
		t.Errorf("process after the edit: %+v", s.Process)
	}
	if s.Hostname != "h" || s.Root.Path != "rootfs" || s.Process.Cwd != "/" || len(s.Linux.Namespaces) != 2 {
		t.Errorf("fields lost in the rewrite: %+v", s)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after the rewrite: %v %v, want 0600 kept", fi, err)
	}
}
