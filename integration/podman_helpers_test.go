package integration

// podman with the monitor under test: `podman --conmon <monitor> --runtime
// runc`, hack/containers.conf, run by root (a store of its own, the same
// defaults as hack/lib.sh) or by the rootless test user (its default store).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

const testImage = "localhost/shim-busybox:latest"

// podman runs podman as one user, root (user nil) or the rootless test user.
type podman struct {
	user *rlUser
	bin  string   // podman's path
	mon  string   // the monitor under test, as this user runs it
	env  []string // podman's whole environment
	opts []string // podman's global options (store, runtime, ...; not --conmon)
}

var (
	podmanOnce sync.Once
	podmanErr  error
	rootPodman *podman
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// setupPodman returns root's podman, preparing the test store once per run:
// podman present, the busybox image imported, the containers that earlier
// runs left behind removed.
func setupPodman(t *testing.T) *podman {
	t.Helper()
	setup(t)
	podmanOnce.Do(func() { rootPodman, podmanErr = newRootPodman() })
	if podmanErr != nil {
		t.Fatal(podmanErr)
	}
	return rootPodman
}

func newRootPodman() (*podman, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, fmt.Errorf("podman not found (%v): run hack/install-deps.sh", err)
	}
	store := envOr("SHIM_TEST_STORE", "/var/lib/shim-test/storage")
	run := envOr("SHIM_TEST_RUN", "/run/shim-test")
	p := &podman{bin: bin, mon: shimBin,
		opts: []string{"--root", store, "--runroot", filepath.Join(run, "storage"),
			"--tmpdir", filepath.Join(run, "libpod"), "--runtime", "runc",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file"},
		env: append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(repoRoot, "hack", "containers.conf")),
	}
	img := exec.Command(filepath.Join(repoRoot, "hack", "make-image.sh"))
	img.Env = append(p.env, "PODMAN_OPTS="+strings.Join(p.opts, " "), "IMAGE="+testImage)
	if out, err := img.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hack/make-image.sh: %v\n%s", err, out)
	}
	p.removeLeftovers()
	return p, nil
}

// namePrefix starts the name of every container the tests create, and
// runPrefix the names of this test process's: the pid follows, so that a
// run removes only what runs that ended without cleaning up left behind,
// never the containers of a run going on at the same time.
const namePrefix = "shimtest-"

var runPrefix = namePrefix + strconv.Itoa(os.Getpid()) + "-"

// ownerAlive reports whether name belongs to a test process still running.
func ownerAlive(name string) bool {
	pidStr, _, ok := strings.Cut(strings.TrimPrefix(name, namePrefix), "-")
	pid, err := strconv.Atoi(pidStr)
	return ok && strings.HasPrefix(name, namePrefix) && err == nil &&
		alive(pid) && strings.HasSuffix(exeOf(pid), ".test")
}

// removeLeftovers removes the test containers of test processes that are
// gone (also those named before names carried the pid).
func (p *podman) removeLeftovers() {
	out, err := p.cmd("ps", "-a", "--format", "{{.Names}}", "--filter", "name=^shimtest").Output()
	if err != nil {
		return
	}
	var stale []string
	for _, name := range strings.Fields(string(out)) {
		if !ownerAlive(name) {
			stale = append(stale, name)
		}
	}
	if len(stale) > 0 {
		p.cmd(append([]string{"rm", "-f", "-t", "0"}, stale...)...).Run()
	}
}

// who names the user in failures.
func (p *podman) who() string {
	if p.user == nil {
		return "root"
	}
	return p.user.name
}

// cmd builds `podman --conmon <monitor under test> ...` as the user.
func (p *podman) cmd(args ...string) *exec.Cmd {
	full := append(append([]string{"--conmon", p.mon}, p.opts...), args...)
	if p.user != nil {
		return p.user.command(p.bin, full...)
	}
	cmd := exec.Command(p.bin, full...)
	cmd.Env = p.env
	return cmd
}

// line is cmd as an sh command line (for a terminal in tmux).
func (p *podman) line(args ...string) string {
	var b strings.Builder
	for _, e := range p.env {
		if strings.HasPrefix(e, "CONTAINERS_CONF=") {
			b.WriteString("env " + testutil.ShellQuote(e) + " ")
		}
	}
	full := append(append([]string{p.bin, "--conmon", p.mon}, p.opts...), args...)
	return b.String() + testutil.ShellJoin(full...)
}

type result struct {
	Stdout, Stderr string
	Code           int
}

// pm runs podman and returns its output and exit code (2 min timeout).
func (p *podman) pm(t *testing.T, args ...string) result {
	t.Helper()
	return runTimeout(t, 2*time.Minute, p.cmd(args...))
}

// pmOK runs podman and fails the test unless it exits 0; returns stdout.
func (p *podman) pmOK(t *testing.T, args ...string) string {
	t.Helper()
	r := p.pm(t, args...)
	if r.Code != 0 {
		t.Fatalf("podman %s (as %s): exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), p.who(), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// ctrName returns a fresh container name of this run's, the container
// removed when the test ends.
func (p *podman) ctrName(t *testing.T) string {
	t.Helper()
	name := runPrefix + randHex(12)
	t.Cleanup(func() { p.cmd("rm", "-f", "-t", "0", name).Run() })
	return name
}

// runD starts a detached container running args and returns its name.
func (p *podman) runD(t *testing.T, extra []string, args ...string) string {
	t.Helper()
	name := p.ctrName(t)
	a := append([]string{"run", "-d", "--name", name}, extra...)
	p.pmOK(t, append(append(a, testImage), args...)...)
	return name
}

type ctrState struct {
	ConmonPid int
	Pid       int
	Running   bool
	Status    string
	ExitCode  int
	OOMKilled bool
}

// inspectOut is what the tests read from podman inspect.
type inspectOut struct {
	ID            string `json:"Id"`
	State         ctrState
	ConmonPidFile string
	StaticDir     string
	HostConfig    struct{ LogConfig struct{ Path string } }
}

func (p *podman) inspect(t *testing.T, name string) inspectOut {
	t.Helper()
	out := p.pmOK(t, "inspect", "--type", "container", name)
	var v []inspectOut
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("podman inspect %s: %v\n%s", name, err, out)
	}
	return v[0]
}

// waitRunning waits until the container runs and its output contains marker
// (use a marker printed after signal traps are set up).
func (p *podman) waitRunning(t *testing.T, name, marker string) inspectOut {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, name+" to print "+strconv.Quote(marker), func() bool {
		r := p.pm(t, "logs", name)
		return r.Code == 0 && strings.Contains(r.Stdout, marker)
	})
	in := p.inspect(t, name)
	if !in.State.Running {
		t.Fatalf("%s is not running: %+v", name, in.State)
	}
	return in
}

// waitExitCode runs `podman wait` and returns the exit code it prints.
func (p *podman) waitExitCode(t *testing.T, name string) int {
	t.Helper()
	out := strings.TrimSpace(p.pmOK(t, "wait", name))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("podman wait %s printed %q", name, out)
	}
	return n
}

// checkMonitor fails unless pid is a live monitor, the binary under test
// as this user runs it, and (rootless) runs as the user, not as root.
func (p *podman) checkMonitor(t *testing.T, pid int) {
	t.Helper()
	checkMonitorExe(t, pid, p.mon)
	if p.user == nil {
		return
	}
	ids := rlProcUIDs(t, pid)
	for _, id := range ids {
		if id != p.user.uid {
			t.Fatalf("monitor %d runs with uids %v, want all %d (%s)", pid, ids, p.user.uid, p.user.name)
		}
	}
}
