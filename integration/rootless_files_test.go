package integration

// The monitor run directly by the unprivileged user, as rootless podman runs
// it but without podman, so that nothing removes what the monitor creates
// before the test looks (podman deletes exit files as it reads them):
// rootless runc (`runc spec --rootless`), the busybox rootfs, umask 022.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shim-project/shim/internal/testutil"
)

// rlBundle writes a rootless runc bundle for args, owned by the user.
func (u *rlUser) rlBundle(t *testing.T, bundle string, args ...string) {
	t.Helper()
	if out, err := u.command(runcBin, "spec", "--rootless", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec --rootless: %v\n%s", err, out)
	}
	// The file stays the user's: patchConfig rewrites it in place.
	patchConfig(t, bundle, func(s *specs.Spec) {
		s.Process.Args = args
		s.Process.Terminal = false
		s.Root = &specs.Root{Path: rootfs, Readonly: true}
	})
}

func TestRootlessMonitorFiles(t *testing.T) {
	u := setupRootless(t)
	dir := u.tempDir(t)
	id := newID()
	bundle := filepath.Join(dir, "bundle")
	exits := filepath.Join(dir, "exits")
	runcRoot := filepath.Join(dir, "runc")
	for _, d := range []string{bundle, exits, runcRoot} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	u.rlBundle(t, bundle, "sh", "-c", "echo hi; exit 3")
	runc := func(args ...string) (string, error) {
		out, err := u.command(runcBin, append([]string{"--root", runcRoot}, args...)...).CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { runc("delete", "-f", id) })

	logPath := filepath.Join(bundle, "ctr.log")
	pidfile := filepath.Join(bundle, "conmon.pid")
	args := []string{"--api-version", "1", "-c", id, "-u", id, "-r", runcBin, "-b", bundle,
		"-p", filepath.Join(bundle, "pidfile"), "-n", "rootless-" + id[len(id)-6:],
		"--exit-dir", exits, "--full-attach", "-l", "k8s-file:" + logPath,
		"--log-level", "debug", "--runtime-arg", "--root=" + runcRoot, "--conmon-pidfile", pidfile}
	mon := u.command("/bin/sh", append([]string{"-c", `umask 022 && exec "$0" "$@"`, u.mon}, args...)...)
	// The first process exits once the daemon runs; until then its stderr
	// shows the diagnostics of the steps that need privileges.
	r := runTimeout(t, time.Minute, mon)
	if r.Code != 0 {
		t.Fatalf("monitor as %s exited %d\nstderr: %s", u.name, r.Code, r.Stderr)
	}
	t.Run("unprivileged_steps_are_debug", func(t *testing.T) {
		var oom bool
		for _, line := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			if strings.HasPrefix(line, "[conmon:e]") || strings.HasPrefix(line, "[conmon:w]") {
				t.Errorf("an error or warning as an unprivileged user: %q", line)
			}
			if strings.Contains(line, "oom_score_adj") {
				oom = true
				if !strings.HasPrefix(line, "[conmon:d]: ") {
					t.Errorf("oom_score_adj failure not a debug message: %q", line)
				}
			}
		}
		if !oom {
			t.Errorf("no debug message about oom_score_adj (which a user cannot lower) at --log-level debug; stderr %q", r.Stderr)
		}
	})
	daemon := readExactInt(t, pidfile)
	u.checkMonitor(t, daemon)
	// The user cannot lower it: the daemon keeps what it inherited.
	mine, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if theirs, err := os.ReadFile("/proc/" + strconv.Itoa(daemon) + "/oom_score_adj"); err != nil || string(theirs) != string(mine) {
		t.Errorf("monitor oom_score_adj %q (%v), want the inherited %q", theirs, err, mine)
	}

	// The daemon makes these before it starts the runtime.
	testutil.Eventually(t, 30*time.Second, "runc create to finish", func() bool {
		out, err := runc("state", id)
		return err == nil && strings.Contains(out, `"status": "created"`)
	})
	u.checkPrivate(t, filepath.Join(bundle, "attach"), os.ModeSocket, 0o700)
	u.checkPrivate(t, filepath.Join(bundle, "ctl"), os.ModeNamedPipe, 0o640)
	u.checkPrivate(t, filepath.Join(bundle, "winsz"), os.ModeNamedPipe, 0o640)
	u.checkPrivate(t, pidfile, 0, 0o644)
	t.Run("log_mode", func(t *testing.T) {
		headOnly(t, "conmon 2.1.6 creates the log 0600")
		u.checkPrivate(t, logPath, 0, 0o640)
	})

	if out, err := runc("start", id); err != nil {
		t.Fatalf("runc start: %v\n%s", err, out)
	}
	exitFile := filepath.Join(exits, id)
	testutil.Eventually(t, 30*time.Second, "the exit file", func() bool {
		_, err := os.Stat(exitFile)
		return err == nil
	})
	waitGone(t, daemon, 10*time.Second, "the monitor")
	if got := readExactInt(t, exitFile); got != 3 {
		t.Errorf("exit file holds %d, want 3", got)
	}
	u.checkPrivate(t, exitFile, 0, 0o644)
	if es := parseLog(t, logPath); len(es) != 1 || es[0].Content != "hi\n" {
		t.Errorf("log %q, want the one line hi", short(es))
	}
	if _, err := os.Lstat(filepath.Join(bundle, "attach")); !os.IsNotExist(err) {
		t.Errorf("attach socket still there after exit: %v", err)
	}
}

// The same paths under rootless podman (the monitor runs in podman's user
// namespace there, as the user's uid on the host).
func TestRootlessPodmanFiles(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, nil, "sh", "-c", "echo ready; sleep 1000")
	in := u.waitRunning(t, name, "ready")
	u.checkMonitor(t, in.State.ConmonPid)
	u.checkPrivate(t, filepath.Join(in.StaticDir, "attach"), os.ModeSocket, 0o700)
	u.checkPrivate(t, filepath.Join(in.StaticDir, "ctl"), os.ModeNamedPipe, 0o640)
	u.checkPrivate(t, filepath.Join(in.StaticDir, "winsz"), os.ModeNamedPipe, 0o640)
	u.checkPrivate(t, in.ConmonPidFile, 0, 0o644)
	t.Run("log_mode", func(t *testing.T) {
		headOnly(t, "conmon 2.1.6 creates the log 0600")
		u.checkPrivate(t, in.HostConfig.LogConfig.Path, 0, 0o640)
	})
}
