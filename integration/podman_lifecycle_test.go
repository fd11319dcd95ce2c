package integration

// podman lifecycle scenarios, each run by root and by the rootless user:
// stop, kill, wait, restart, rm -f, a killed client, many containers,
// inspect's ConmonPid.

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// forEachUser runs f as the subtest "root" with root's podman and as
// "rootless" with the rootless test user's.
func forEachUser(t *testing.T, f func(t *testing.T, p *podman)) {
	t.Run("root", func(t *testing.T) { f(t, setupPodman(t)) })
	t.Run("rootless", func(t *testing.T) { f(t, setupRootless(t).podman) })
}

func TestPodmanStop(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		t.Run("term_handled", func(t *testing.T) {
			t.Parallel()
			name := p.runD(t, nil, "sh", "-c", `trap "exit 0" TERM; echo ready; sleep 1000 & wait`)
			p.waitRunning(t, name, "ready")
			t0 := time.Now()
			p.pmOK(t, "stop", "-t", "30", name)
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("podman stop took %v for a container that exits on TERM", d)
			}
			// Exit code 0 is the trap's: TERM reached the shell, not the
			// 30-second KILL.
			if in := p.inspect(t, name); in.State.Running || in.State.ExitCode != 0 {
				t.Fatalf("after stop: %+v, want exited 0", in.State)
			}
		})
		t.Run("term_ignored_killed_after_timeout", func(t *testing.T) {
			t.Parallel()
			// sleep as PID 1 has no TERM handler, so TERM is ignored.
			name := p.runD(t, nil, "sleep", "1000")
			in := p.waitRunning(t, name, "")
			t0 := time.Now()
			p.pmOK(t, "stop", "-t", "2", name)
			d := time.Since(t0)
			if d < 2*time.Second || d > 10*time.Second {
				t.Errorf("podman stop -t 2 took %v, want about 2s (TERM ignored, then KILL)", d)
			}
			if now := p.inspect(t, name); now.State.Running || now.State.ExitCode != 137 {
				t.Fatalf("after stop: %+v, want exited 137", now.State)
			}
			waitGone(t, in.State.ConmonPid, 10*time.Second, "the monitor of a stopped container")
		})
	})
}

func TestPodmanKill(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		t.Run("signal_handled", func(t *testing.T) {
			t.Parallel()
			name := p.runD(t, nil, "sh", "-c", `trap "exit 10" USR1; echo ready; sleep 1000 & wait`)
			p.waitRunning(t, name, "ready")
			p.pmOK(t, "kill", "-s", "USR1", name)
			if code := p.waitExitCode(t, name); code != 10 {
				t.Fatalf("exit code %d after kill -s USR1, want 10", code)
			}
		})
		t.Run("default_kill", func(t *testing.T) {
			t.Parallel()
			name := p.runD(t, nil, "sleep", "1000")
			p.waitRunning(t, name, "")
			p.pmOK(t, "kill", name)
			if code := p.waitExitCode(t, name); code != 137 {
				t.Fatalf("exit code %d after kill, want 137", code)
			}
		})
	})
}

func TestPodmanWait(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		name := p.runD(t, nil, "sh", "-c", "sleep 1; exit 7")
		if code := p.waitExitCode(t, name); code != 7 {
			t.Fatalf("podman wait: %d, want 7", code)
		}
		if in := p.inspect(t, name); in.State.ExitCode != 7 || in.State.Status != "exited" {
			t.Fatalf("inspect after wait: %+v", in.State)
		}
	})
}

func TestPodmanRestart(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		name := p.runD(t, nil, "sh", "-c", "echo started; sleep 1000")
		first := p.waitRunning(t, name, "started")
		p.checkMonitor(t, first.State.ConmonPid)
		p.pmOK(t, "restart", "-t", "0", name)
		testutil.Eventually(t, 30*time.Second, "the restarted container to print again", func() bool {
			return strings.Count(p.pm(t, "logs", name).Stdout, "started") == 2
		})
		second := p.inspect(t, name)
		if !second.State.Running {
			t.Fatalf("not running after restart: %+v", second.State)
		}
		if second.State.ConmonPid == first.State.ConmonPid {
			t.Fatalf("ConmonPid %d unchanged across restart", first.State.ConmonPid)
		}
		p.checkMonitor(t, second.State.ConmonPid)
		waitGone(t, first.State.ConmonPid, 10*time.Second, "the first monitor")
	})
}

func TestPodmanRmForce(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		name := p.runD(t, nil, "sleep", "1000")
		in := p.waitRunning(t, name, "")
		p.pmOK(t, "rm", "-f", "-t", "0", name)
		if r := p.pm(t, "container", "exists", name); r.Code != 1 {
			t.Fatalf("container exists after rm -f: exit %d", r.Code)
		}
		waitGone(t, in.State.ConmonPid, 10*time.Second, "monitor of a removed container")
		waitGone(t, in.State.Pid, 10*time.Second, "container process of a removed container")
	})
}

// The podman client dies (kill -9): the container and its monitor live on,
// the exit code and the output printed afterwards are kept.
func TestPodmanClientKilled(t *testing.T) {
	t.Parallel()
	forEachUser(t, func(t *testing.T, p *podman) {
		t.Parallel()
		name := p.ctrName(t)
		cmd := p.cmd("run", "--name", name, testImage, "sh", "-c",
			`trap "echo after; exit 5" USR1; echo ready; sleep 1000 & wait`)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Kill()
			cmd.Wait()
		}()
		in := p.waitRunning(t, name, "ready")
		cmd.Process.Kill() // kill -9 the podman client
		cmd.Wait()
		time.Sleep(200 * time.Millisecond)
		if now := p.inspect(t, name); !now.State.Running {
			t.Fatalf("container stopped when its podman client was killed: %+v", now.State)
		}
		p.checkMonitor(t, in.State.ConmonPid)
		p.pmOK(t, "kill", "-s", "USR1", name)
		if code := p.waitExitCode(t, name); code != 5 {
			t.Fatalf("podman wait: %d, want 5", code)
		}
		if now := p.inspect(t, name); now.State.ExitCode != 5 {
			t.Fatalf("inspect ExitCode %d, want 5", now.State.ExitCode)
		}
		if out := p.pmOK(t, "logs", name); out != "ready\nafter\n" {
			t.Fatalf("logs %q: output after the client died is lost", out)
		}
	})
}

func TestPodmanManyContainers(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		const n = 30
		names := make([]string, n)
		for i := range names {
			names[i] = p.ctrName(t)
		}
		runSleepers(t, names, p.cmd)
		seen := map[int]bool{}
		var pids []int
		for _, name := range names {
			in := p.inspect(t, name)
			if !in.State.Running {
				t.Fatalf("%s not running: %+v", name, in.State)
			}
			if seen[in.State.ConmonPid] {
				t.Fatalf("ConmonPid %d shared by two containers", in.State.ConmonPid)
			}
			seen[in.State.ConmonPid] = true
			pids = append(pids, in.State.ConmonPid)
			p.checkMonitor(t, in.State.ConmonPid)
		}
		p.pmOK(t, append([]string{"rm", "-f", "-t", "0"}, names...)...)
		for _, pid := range pids {
			waitGone(t, pid, 20*time.Second, "monitor of a removed container")
		}
	})
}

func TestPodmanInspectConmonPid(t *testing.T) {
	forEachUser(t, func(t *testing.T, p *podman) {
		name := p.runD(t, nil, "sleep", "1000")
		in := p.waitRunning(t, name, "")
		p.checkMonitor(t, in.State.ConmonPid)
		if got := readExactInt(t, in.ConmonPidFile); got != in.State.ConmonPid {
			t.Errorf("%s holds %d, inspect says ConmonPid %d", in.ConmonPidFile, got, in.State.ConmonPid)
		}
		st, err := readProcStat(in.State.Pid)
		if err != nil || st.PPID != in.State.ConmonPid {
			t.Errorf("container pid %d has parent %d (%v), want the monitor %d", in.State.Pid, st.PPID, err, in.State.ConmonPid)
		}
	})
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
