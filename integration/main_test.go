// Package integration holds black-box tests of the monitor binary: they run it
// the way podman and CRI-O do, against the real runc and the real podman.
//
// The binary under test is $SHIM_BIN (default: <repo>/bin/shim). Point it at
// the system's conmon to check the tests themselves:
//
//	SHIM_BIN=/usr/bin/conmon go test ./integration/ -v
//
// Checks of behaviour that conmon HEAD (the interface's target) has and the
// installed conmon 2.1.6 lacks run only when the binary is not /usr/bin/conmon
// (see headOnly).
//
// The tests need root; without it every test skips with a message saying so.
// runc, podman and busybox-static come from hack/install-deps.sh.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// refConmon is the reference monitor installed from Debian (conmon 2.1.6).
const refConmon = "/usr/bin/conmon"

var (
	repoRoot string // the module root (parent of integration/)
	shimBin  string // absolute path of the monitor under test
	isRef    bool   // shimBin is the system conmon 2.1.6
	workDir  string // scratch dir for this test binary run
	runcBin  string // absolute path of runc
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	shimBin = os.Getenv("SHIM_BIN")
	if shimBin == "" {
		shimBin = filepath.Join(repoRoot, "bin", "shim")
	}
	if shimBin, err = filepath.Abs(shimBin); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	isRef = sameFile(shimBin, refConmon)
	dir, err := os.MkdirTemp("", "shim-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	workDir = dir
	defer os.RemoveAll(dir)
	return m.Run()
}

// sameFile reports whether a and b name the same file after following links.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// headOnly skips the rest of a (sub)test when running against conmon 2.1.6,
// for checks where the interface's target (conmon HEAD) differs from 2.1.6.
func headOnly(t *testing.T, why string) {
	t.Helper()
	if isRef {
		t.Skipf("conmon 2.1.6 differs from HEAD here (%s); checked only for shim", why)
	}
}

var (
	baseOnce sync.Once
	baseErr  error
	rootfs   string // shared read-only busybox rootfs for the direct tests
	specJSON []byte // `runc spec` output, the template of every config.json
)

// setup is called first by every test: it skips unless root, fails with a
// clear message when a tool is missing, and builds the shared rootfs once.
func setup(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("integration tests need root (they run runc and podman): run them as root, e.g. `sudo make test`")
	}
	if fi, err := os.Stat(shimBin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("monitor binary %s is missing or not executable: run `make build` (or set SHIM_BIN)", shimBin)
	}
	baseOnce.Do(func() {
		if runcBin, baseErr = exec.LookPath("runc"); baseErr != nil {
			baseErr = fmt.Errorf("runc not found (%v): run hack/install-deps.sh", baseErr)
			return
		}
		if _, baseErr = os.Stat("/bin/busybox"); baseErr != nil {
			baseErr = fmt.Errorf("busybox-static missing (%v): run hack/install-deps.sh", baseErr)
			return
		}
		rootfs = filepath.Join(workDir, "rootfs")
		out, err := exec.Command(filepath.Join(repoRoot, "hack", "make-rootfs.sh"), rootfs).CombinedOutput()
		if err != nil {
			baseErr = fmt.Errorf("hack/make-rootfs.sh: %v\n%s", err, out)
			return
		}
		specDir := filepath.Join(workDir, "spec")
		if err := os.MkdirAll(specDir, 0o755); err != nil {
			baseErr = err
			return
		}
		if out, err := exec.Command(runcBin, "spec", "--bundle", specDir).CombinedOutput(); err != nil {
			baseErr = fmt.Errorf("runc spec: %v\n%s", err, out)
			return
		}
		specJSON, baseErr = os.ReadFile(filepath.Join(specDir, "config.json"))
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
}
