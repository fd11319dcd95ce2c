package integration

// OOM kills (§11.3): through podman (OOMKilled in inspect) and through the
// direct harness (the oom files in the bundle and the persist dir).

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memoryHog grows a shell string until the memory limit strikes.
const memoryHog = `x=0123456789; while :; do x=$x$x; done`

func TestPodmanOOM(t *testing.T) {
	pod := setupPodman(t)
	if isRef {
		// 2.1.6 writes ./oom into its cwd, which is podman's: ours.
		t.Cleanup(func() { os.Remove("oom") })
	}
	limit := []string{"--memory", "32m", "--memory-swap", "32m"}
	t.Run("hog_killed", func(t *testing.T) {
		name := pod.ctrName(t)
		r := pod.pm(t, append(append([]string{"run", "--name", name}, limit...), testImage, "sh", "-c", memoryHog)...)
		if r.Code != 137 {
			t.Fatalf("podman run of a memory hog: exit %d, want 137\nstderr: %s", r.Code, r.Stderr)
		}
		headOnly(t, "2.1.6 writes ./oom relative to its cwd, which podman 4.3 does not read")
		st := pod.inspect(t, name).State
		if !st.OOMKilled || st.ExitCode != 137 {
			t.Fatalf("inspect: OOMKilled %v, ExitCode %d; want true, 137", st.OOMKilled, st.ExitCode)
		}
	})
	// Any OOM kill in the container's cgroup counts, also of a child while
	// the main process exits 0 (§11.3, verified on conmon HEAD).
	t.Run("child_killed_main_exits_0", func(t *testing.T) {
		name := pod.ctrName(t)
		r := pod.pm(t, append(append([]string{"run", "--name", name}, limit...), testImage,
			"sh", "-c", "sh -c '"+memoryHog+"'; echo child=$?")...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "child=137") {
			t.Fatalf("exit %d, stdout %q: want 0 and child=137\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		headOnly(t, "2.1.6 writes ./oom relative to its cwd, which podman 4.3 does not read")
		if st := pod.inspect(t, name).State; !st.OOMKilled {
			t.Fatalf("inspect: OOMKilled false after a child was OOM-killed")
		}
	})
	t.Run("plain_exit_not_oom", func(t *testing.T) {
		name := pod.ctrName(t)
		r := pod.pm(t, append(append([]string{"run", "--name", name}, limit...), testImage, "sh", "-c", "exit 3")...)
		if r.Code != 3 {
			t.Fatalf("exit %d, want 3\nstderr: %s", r.Code, r.Stderr)
		}
		if st := pod.inspect(t, name).State; st.OOMKilled || st.ExitCode != 3 {
			t.Fatalf("inspect: OOMKilled %v, ExitCode %d; want false, 3", st.OOMKilled, st.ExitCode)
		}
	})
	t.Run("killed_not_oom", func(t *testing.T) {
		name := pod.runD(t, limit, "sleep", "1000")
		pod.waitRunning(t, name, "")
		pod.pmOK(t, "kill", name)
		if code := pod.waitExitCode(t, name); code != 137 {
			t.Fatalf("exit %d after kill, want 137", code)
		}
		if st := pod.inspect(t, name).State; st.OOMKilled {
			t.Fatal("inspect: a SIGKILLed container reported OOMKilled")
		}
	})
}

// memoryCgroupOf finds the v1 memory cgroup directory of pid.
func memoryCgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[1] == "memory" {
			return filepath.Join("/sys/fs/cgroup/memory", f[2])
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join("/sys/fs/cgroup", p)
		}
	}
	t.Fatalf("no memory cgroup in %s", b)
	return ""
}

// The direct harness with --persist-dir: a child OOM-killed while the main
// process exits 0 gives exit file 0 plus <bundle>/oom and <persist-dir>/oom.
func TestOOMFiles(t *testing.T) {
	persist := t.TempDir()
	r := startMon(t, monOpts{
		Args:  []string{"sh", "-c", "sh -c '" + memoryHog + "'; echo child=$?"},
		Extra: []string{"--persist-dir", persist},
	})
	r.created()
	// runc created the cgroup; limit it before the process starts.
	cg := memoryCgroupOf(t, r.CtrPID)
	limitFile := "memory.limit_in_bytes"
	if _, err := os.Stat(filepath.Join(cg, limitFile)); err != nil {
		limitFile = "memory.max" // cgroup v2
	}
	if err := os.WriteFile(filepath.Join(cg, limitFile), []byte("33554432"), 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cg, "memory.memsw.limit_in_bytes"), []byte("33554432"), 0)
	os.WriteFile(filepath.Join(cg, "memory.swap.max"), []byte("0"), 0)
	r.startCtr()
	if got := r.waitExit(30 * time.Second); got != "0" {
		t.Fatalf("exit file %q, want 0", got)
	}
	r.waitLog("child=137", 5*time.Second)
	headOnly(t, "2.1.6 writes ./oom (its cwd) instead of <bundle>/oom")
	for _, p := range []string{filepath.Join(r.Bundle, "oom"), filepath.Join(persist, "oom")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("oom file: %v", err)
		}
		if fi.Size() != 0 || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: size %d mode %v, want empty 0644", p, fi.Size(), fi.Mode().Perm())
		}
	}
	if b, err := os.ReadFile(filepath.Join(persist, "exit")); err != nil || string(b) != "0" {
		t.Fatalf("persist exit file %q, %v", b, err)
	}
	// The exit record says so too (§16.3), though the main process exited 0.
	if rec := readExitRecord(t, persist); !rec.OOMKilled || rec.ExitCode == nil || *rec.ExitCode != 0 {
		t.Errorf("exit record: oom_killed %v, exit code %v", rec.OOMKilled, rec.ExitCode)
	}
}

// No OOM, no oom files.
func TestOOMFilesAbsentOnPlainExit(t *testing.T) {
	persist := t.TempDir()
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "exit 4"}, Extra: []string{"--persist-dir", persist}}).run()
	if got := r.waitExit(30 * time.Second); got != "4" {
		t.Fatalf("exit file %q, want 4", got)
	}
	for _, p := range []string{filepath.Join(r.Bundle, "oom"), filepath.Join(persist, "oom")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a plain exit", p)
		}
	}
}
