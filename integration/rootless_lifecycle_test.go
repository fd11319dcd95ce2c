package integration

// Rootless podman lifecycle: stop, kill, wait, restart, rm -f, a killed
// podman process, 30 containers.

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRootlessStop(t *testing.T) {
	u := setupRootless(t)
	t.Run("term_handled", func(t *testing.T) {
		t.Parallel()
		name := u.runD(t, nil, "sh", "-c", `trap "exit 0" TERM; echo ready; sleep 1000 & wait`)
		u.waitRunning(t, name, "ready")
		u.pmOK(t, "stop", "-t", "30", name)
		// Exit code 0 is the trap's: TERM reached the shell, not the
		// 30-second KILL.
		if in := u.inspect(t, name); in.State.Running || in.State.ExitCode != 0 {
			t.Fatalf("after stop: %+v, want exited 0", in.State)
		}
	})
	t.Run("term_ignored_killed_after_timeout", func(t *testing.T) {
		t.Parallel()
		// sleep as PID 1 has no TERM handler, so TERM is ignored.
		name := u.runD(t, nil, "sleep", "1000")
		in := u.waitRunning(t, name, "")
		u.pmOK(t, "stop", "-t", "1", name)
		if now := u.inspect(t, name); now.State.Running || now.State.ExitCode != 137 {
			t.Fatalf("after stop: %+v, want exited 137", now.State)
		}
		waitGone(t, in.State.ConmonPid, 10*time.Second, "the monitor of a stopped container")
	})
}

func TestRootlessKill(t *testing.T) {
	u := setupRootless(t)
	t.Run("signal_handled", func(t *testing.T) {
		t.Parallel()
		name := u.runD(t, nil, "sh", "-c", `trap "exit 10" USR1; echo ready; sleep 1000 & wait`)
		u.waitRunning(t, name, "ready")
		u.pmOK(t, "kill", "-s", "USR1", name)
		if code := u.waitExitCode(t, name); code != 10 {
			t.Fatalf("exit code %d after kill -s USR1, want 10", code)
		}
	})
	t.Run("default_kill", func(t *testing.T) {
		t.Parallel()
		name := u.runD(t, nil, "sleep", "1000")
		u.waitRunning(t, name, "")
		u.pmOK(t, "kill", name)
		if code := u.waitExitCode(t, name); code != 137 {
			t.Fatalf("exit code %d after kill, want 137", code)
		}
	})
}

func TestRootlessWait(t *testing.T) {
	u := setupRootless(t)
	t.Parallel()
	name := u.runD(t, nil, "sh", "-c", "sleep 1; exit 7")
	if code := u.waitExitCode(t, name); code != 7 {
		t.Fatalf("podman wait: %d, want 7", code)
	}
	if in := u.inspect(t, name); in.State.ExitCode != 7 || in.State.Status != "exited" {
		t.Fatalf("inspect after wait: %+v", in.State)
	}
}

func TestRootlessRestart(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, nil, "sh", "-c", "echo started; sleep 1000")
	first := u.waitRunning(t, name, "started")
	u.checkMonitor(t, first.State.ConmonPid)
	u.pmOK(t, "restart", "-t", "0", name)
	eventually(t, 30*time.Second, "the restarted container to print again", func() bool {
		return strings.Count(u.pm(t, "logs", name).Stdout, "started") == 2
	})
	second := u.inspect(t, name)
	if !second.State.Running {
		t.Fatalf("not running after restart: %+v", second.State)
	}
	if second.State.ConmonPid == first.State.ConmonPid {
		t.Fatalf("ConmonPid %d unchanged across restart", first.State.ConmonPid)
	}
	u.checkMonitor(t, second.State.ConmonPid)
	waitGone(t, first.State.ConmonPid, 10*time.Second, "the first monitor")
}

func TestRootlessRmForce(t *testing.T) {
	u := setupRootless(t)
	name := u.runD(t, nil, "sleep", "1000")
	in := u.waitRunning(t, name, "")
	u.pmOK(t, "rm", "-f", "-t", "0", name)
	if r := u.pm(t, "container", "exists", name); r.Code != 1 {
		t.Fatalf("container exists after rm -f: exit %d", r.Code)
	}
	waitGone(t, in.State.ConmonPid, 10*time.Second, "monitor of a removed container")
	waitGone(t, in.State.Pid, 10*time.Second, "container process of a removed container")
}

// The podman process dies (kill -9): the container and its monitor live on,
// the exit code and the output printed afterwards are kept.
func TestRootlessClientKilled(t *testing.T) {
	u := setupRootless(t)
	t.Parallel()
	name := u.ctrName(t)
	cmd := u.podman("run", "--name", name, testImage, "sh", "-c",
		`trap "echo after; exit 5" USR1; echo ready; sleep 1000 & wait`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	in := u.waitRunning(t, name, "ready")
	cmd.Process.Kill()
	cmd.Wait()
	if now := u.inspect(t, name); !now.State.Running {
		t.Fatalf("container stopped when its podman process was killed: %+v", now.State)
	}
	u.checkMonitor(t, in.State.ConmonPid)
	u.pmOK(t, "kill", "-s", "USR1", name)
	if code := u.waitExitCode(t, name); code != 5 {
		t.Fatalf("podman wait: %d, want 5", code)
	}
	if out := u.pmOK(t, "logs", name); out != "ready\nafter\n" {
		t.Fatalf("logs %q: output after podman died is lost", out)
	}
}

func TestRootlessManyContainers(t *testing.T) {
	u := setupRootless(t)
	const n = 30
	names := make([]string, n)
	for i := range names {
		names[i] = u.ctrName(t)
	}
	runSleepers(t, names, u.podman)
	seen := map[int]bool{}
	var pids []int
	for _, name := range names {
		in := u.inspect(t, name)
		if !in.State.Running {
			t.Fatalf("%s not running: %+v", name, in.State)
		}
		if seen[in.State.ConmonPid] {
			t.Fatalf("ConmonPid %d shared by two containers", in.State.ConmonPid)
		}
		seen[in.State.ConmonPid] = true
		pids = append(pids, in.State.ConmonPid)
		u.checkMonitor(t, in.State.ConmonPid)
	}
	u.pmOK(t, append([]string{"rm", "-f", "-t", "0"}, names...)...)
	for _, pid := range pids {
		waitGone(t, pid, 20*time.Second, "monitor of a removed container")
	}
}

// runSleepers runs `podman run -d --name NAME <image> sleep 1000` for each
// name, two at a time (the machine has two cores), with the podman command
// that podman builds; it stops the test if any fails.
func runSleepers(t *testing.T, names []string, podman func(args ...string) *exec.Cmd) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(names))
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cmd := podman("run", "-d", "--name", names[i], testImage, "sleep", "1000")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Sprintf("%s: %v: %s", names[i], err, out)
				}
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("podman run -d:", e)
	}
	if t.Failed() {
		t.FailNow()
	}
}
