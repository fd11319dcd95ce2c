package integration

// podman with the monitor under test: `podman --conmon $SHIM_BIN --runtime runc`,
// hack/containers.conf, and a store of its own (same defaults as hack/lib.sh).

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
)

const testImage = "localhost/shim-busybox:latest"

var (
	podmanOnce sync.Once
	podmanErr  error
	podmanBin  string
	podmanEnv  []string
	podmanOpts []string // global options: store, runtime, ... (not --conmon)
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// setupPodman prepares the test store once per run: podman present, the
// busybox image imported, leftovers of an aborted earlier run removed.
func setupPodman(t *testing.T) {
	t.Helper()
	setup(t)
	podmanOnce.Do(func() {
		if podmanBin, podmanErr = exec.LookPath("podman"); podmanErr != nil {
			podmanErr = fmt.Errorf("podman not found (%v): run hack/install-deps.sh", podmanErr)
			return
		}
		store := envOr("SHIM_TEST_STORE", "/var/lib/shim-test/storage")
		run := envOr("SHIM_TEST_RUN", "/run/shim-test")
		podmanOpts = []string{"--root", store, "--runroot", filepath.Join(run, "storage"),
			"--tmpdir", filepath.Join(run, "libpod"), "--runtime", "runc",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
		podmanEnv = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(repoRoot, "hack", "containers.conf"))
		img := exec.Command(filepath.Join(repoRoot, "hack", "make-image.sh"))
		img.Env = append(podmanEnv, "PODMAN_OPTS="+strings.Join(podmanOpts, " "), "IMAGE="+testImage)
		if out, err := img.CombinedOutput(); err != nil {
			podmanErr = fmt.Errorf("hack/make-image.sh: %v\n%s", err, out)
			return
		}
		// Containers left by an interrupted run (all test names start so).
		ps := exec.Command(podmanBin, append(podmanOpts, "ps", "-aq", "--filter", "name=^shimtest")...)
		ps.Env = podmanEnv
		if out, err := ps.Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
			rm := exec.Command(podmanBin, append(append(podmanOpts, "rm", "-f", "-t", "0"), strings.Fields(string(out))...)...)
			rm.Env = podmanEnv
			rm.Run()
		}
	})
	if podmanErr != nil {
		t.Fatal(podmanErr)
	}
}

// podmanCmd builds a podman command using the monitor under test.
func podmanCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(podmanBin, append(append([]string{"--conmon", shimBin}, podmanOpts...), args...)...)
	cmd.Env = podmanEnv
	return cmd
}

type result struct {
	Stdout, Stderr string
	Code           int
}

// pm runs podman and returns its output and exit code (2 min timeout).
func pm(t *testing.T, args ...string) result {
	t.Helper()
	full := append(append([]string{"--conmon", shimBin}, podmanOpts...), args...)
	o, e, c := runCmd(t, 2*time.Minute, podmanEnv, podmanBin, full...)
	return result{o, e, c}
}

// pmOK runs podman and fails the test unless it exits 0; returns stdout.
func pmOK(t *testing.T, args ...string) string {
	t.Helper()
	r := pm(t, args...)
	if r.Code != 0 {
		t.Fatalf("podman %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// ctrName returns a fresh container name that is removed when the test ends.
func ctrName(t *testing.T) string {
	t.Helper()
	name := newID()
	t.Cleanup(func() {
		c := podmanCmd("rm", "-f", "-t", "0", name)
		c.Run()
	})
	return name
}

// runD starts a detached container running args and returns its name.
func runD(t *testing.T, extra []string, args ...string) string {
	t.Helper()
	name := ctrName(t)
	a := append([]string{"run", "-d", "--name", name}, extra...)
	pmOK(t, append(append(a, testImage), args...)...)
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

type inspectOut struct {
	ID            string `json:"Id"`
	State         ctrState
	ConmonPidFile string
}

func inspect(t *testing.T, name string) inspectOut {
	t.Helper()
	out := pmOK(t, "inspect", "--type", "container", name)
	var v []inspectOut
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("podman inspect %s: %v\n%s", name, err, out)
	}
	return v[0]
}

// waitRunning waits until the container runs and its output contains marker
// (use a marker printed after signal traps are set up).
func waitRunning(t *testing.T, name, marker string) inspectOut {
	t.Helper()
	eventually(t, 30*time.Second, name+" to print "+strconv.Quote(marker), func() bool {
		r := pm(t, "logs", name)
		return r.Code == 0 && strings.Contains(r.Stdout, marker)
	})
	in := inspect(t, name)
	if !in.State.Running {
		t.Fatalf("%s is not running: %+v", name, in.State)
	}
	return in
}

// waitExitCode runs `podman wait` and returns the exit code it prints.
func waitExitCode(t *testing.T, name string) int {
	t.Helper()
	out := strings.TrimSpace(pmOK(t, "wait", name))
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("podman wait %s printed %q", name, out)
	}
	return n
}
