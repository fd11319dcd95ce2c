package integration

// podman lifecycle scenarios: stop, kill, wait, restart, rm -f, a killed
// client, many containers, inspect's ConmonPid.

import (
	"strings"
	"testing"
	"time"
)

func TestPodmanStop(t *testing.T) {
	setupPodman(t)
	t.Run("term_handled", func(t *testing.T) {
		t.Parallel()
		name := runD(t, nil, "sh", "-c", `trap "exit 0" TERM; echo ready; sleep 1000 & wait`)
		waitRunning(t, name, "ready")
		t0 := time.Now()
		pmOK(t, "stop", "-t", "10", name)
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("podman stop took %v for a container that exits on TERM", d)
		}
		if in := inspect(t, name); in.State.Running || in.State.ExitCode != 0 {
			t.Fatalf("after stop: %+v, want exited 0", in.State)
		}
	})
	t.Run("term_ignored_killed_after_timeout", func(t *testing.T) {
		t.Parallel()
		// sleep as PID 1 has no TERM handler, so TERM is ignored.
		name := runD(t, nil, "sleep", "1000")
		waitRunning(t, name, "")
		t0 := time.Now()
		pmOK(t, "stop", "-t", "2", name)
		d := time.Since(t0)
		if d < 2*time.Second || d > 10*time.Second {
			t.Errorf("podman stop -t 2 took %v, want about 2s (TERM ignored, then KILL)", d)
		}
		if in := inspect(t, name); in.State.Running || in.State.ExitCode != 137 {
			t.Fatalf("after stop: %+v, want exited 137", in.State)
		}
	})
}

func TestPodmanKill(t *testing.T) {
	setupPodman(t)
	t.Run("signal_handled", func(t *testing.T) {
		name := runD(t, nil, "sh", "-c", `trap "exit 10" USR1; echo ready; sleep 1000 & wait`)
		waitRunning(t, name, "ready")
		pmOK(t, "kill", "-s", "USR1", name)
		if code := waitExitCode(t, name); code != 10 {
			t.Fatalf("exit code %d after kill -s USR1, want 10", code)
		}
	})
	t.Run("default_kill", func(t *testing.T) {
		name := runD(t, nil, "sleep", "1000")
		waitRunning(t, name, "")
		pmOK(t, "kill", name)
		if code := waitExitCode(t, name); code != 137 {
			t.Fatalf("exit code %d after kill, want 137", code)
		}
	})
}

func TestPodmanWait(t *testing.T) {
	setupPodman(t)
	name := runD(t, nil, "sh", "-c", "sleep 1; exit 7")
	if code := waitExitCode(t, name); code != 7 {
		t.Fatalf("podman wait: %d, want 7", code)
	}
	if in := inspect(t, name); in.State.ExitCode != 7 || in.State.Status != "exited" {
		t.Fatalf("inspect after wait: %+v", in.State)
	}
}

func TestPodmanRestart(t *testing.T) {
	setupPodman(t)
	name := runD(t, nil, "sh", "-c", "echo started; sleep 1000")
	first := waitRunning(t, name, "started")
	pmOK(t, "restart", "-t", "0", name)
	eventually(t, 30*time.Second, "the restarted container to print again", func() bool {
		return strings.Count(pm(t, "logs", name).Stdout, "started") == 2
	})
	second := inspect(t, name)
	if !second.State.Running {
		t.Fatalf("not running after restart: %+v", second.State)
	}
	if second.State.ConmonPid == first.State.ConmonPid {
		t.Fatalf("ConmonPid %d unchanged across restart", first.State.ConmonPid)
	}
	checkIsMonitor(t, second.State.ConmonPid)
	waitGone(t, first.State.ConmonPid, 10*time.Second, "the first monitor")
}

func TestPodmanRmForce(t *testing.T) {
	setupPodman(t)
	name := runD(t, nil, "sleep", "1000")
	in := waitRunning(t, name, "")
	pmOK(t, "rm", "-f", "-t", "0", name)
	if r := pm(t, "container", "exists", name); r.Code != 1 {
		t.Fatalf("container exists after rm -f: exit %d", r.Code)
	}
	waitGone(t, in.State.ConmonPid, 10*time.Second, "monitor of a removed container")
	waitGone(t, in.State.Pid, 10*time.Second, "container process of a removed container")
}

func TestPodmanClientKilled(t *testing.T) {
	setupPodman(t)
	t.Parallel()
	name := ctrName(t)
	cmd := podmanCmd("run", "--name", name, testImage, "sh", "-c", "echo ready; sleep 3; echo after; exit 5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	in := waitRunning(t, name, "ready")
	cmd.Process.Kill() // kill -9 the podman client
	cmd.Wait()
	time.Sleep(200 * time.Millisecond)
	if now := inspect(t, name); !now.State.Running {
		t.Fatalf("container stopped when its podman client was killed: %+v", now.State)
	}
	checkIsMonitor(t, in.State.ConmonPid)
	if code := waitExitCode(t, name); code != 5 {
		t.Fatalf("podman wait: %d, want 5", code)
	}
	if now := inspect(t, name); now.State.ExitCode != 5 {
		t.Fatalf("inspect ExitCode %d, want 5", now.State.ExitCode)
	}
	if out := pmOK(t, "logs", name); out != "ready\nafter\n" {
		t.Fatalf("logs %q: output after the client died is lost", out)
	}
}

func TestPodmanManyContainers(t *testing.T) {
	setupPodman(t)
	const n = 30
	names := make([]string, n)
	for i := range names {
		names[i] = ctrName(t)
	}
	runSleepers(t, names, podmanCmd)
	seen := map[int]bool{}
	var pids []int
	for _, name := range names {
		in := inspect(t, name)
		if !in.State.Running {
			t.Fatalf("%s not running: %+v", name, in.State)
		}
		if seen[in.State.ConmonPid] {
			t.Fatalf("ConmonPid %d shared by two containers", in.State.ConmonPid)
		}
		seen[in.State.ConmonPid] = true
		pids = append(pids, in.State.ConmonPid)
		checkIsMonitor(t, in.State.ConmonPid)
	}
	pmOK(t, append([]string{"rm", "-f", "-t", "0"}, names...)...)
	for _, pid := range pids {
		waitGone(t, pid, 20*time.Second, "monitor of a removed container")
	}
}

func TestPodmanInspectConmonPid(t *testing.T) {
	setupPodman(t)
	name := runD(t, nil, "sleep", "1000")
	in := waitRunning(t, name, "")
	checkIsMonitor(t, in.State.ConmonPid)
	if got := readExactInt(t, in.ConmonPidFile); got != in.State.ConmonPid {
		t.Errorf("%s holds %d, inspect says ConmonPid %d", in.ConmonPidFile, got, in.State.ConmonPid)
	}
	st, err := readProcStat(in.State.Pid)
	if err != nil || st.PPID != in.State.ConmonPid {
		t.Errorf("container pid %d has parent %d (%v), want the monitor %d", in.State.Pid, st.PPID, err, in.State.ConmonPid)
	}
}
