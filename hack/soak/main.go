// Command soak proves that a container monitor gives back what a long load
// takes: against one long-lived podman container (k8s-file log with
// --log-size-max) it runs exec syncs as CRI-O's probes do, attach
// connect/close storms, ctl messages, a GiB of the container's own output
// and `podman exec`s, and prints the monitor's fds, goroutines (shim's
// metrics socket), RSS and Private_Dirty, and the container's monitor
// processes and the zombies in this process's tree before and after each
// phase, with the bounds they must meet (fds and goroutines exactly, memory
// within 1 MiB, monitors and zombies back to their start). Run for several
// monitors it prints wall time and CPU side by side. hack/soak.sh runs it.
//
// This process is a child subreaper: the monitors' daemons fork away from
// podman and become its children, so their own CPU can be read from their
// /proc/PID/stat as zombies (see reaper.go).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shim-project/shim/hack/probe"
)

type soak struct {
	r   *reaper
	pm  *podman
	ctr *container
}

// row is one phase's outcome.
type row struct {
	phase         string
	count         int
	wall, monCPU  time.Duration
	w             work
	before, after snapshot
	broken        []string
}

func (r row) failed() bool { return len(r.broken) > 0 || r.w.errors > 0 }

type result struct {
	label, monitor string
	ctr            *container
	start, end     snapshot
	rows           []row
	broken         []string  // end against start
	load           [2]string // /proc/loadavg at the start and the end: the wall times depend on it
}

type config struct {
	podmanOpts    []string
	conf          string // containers.conf to use
	image, logMax string
	settle        time.Duration
	phases        []phase
	scratch       string
}

func main() {
	var monitors []string
	flag.Func("monitor", "monitor binary (repeat to compare)", func(s string) error {
		monitors = append(monitors, s)
		return nil
	})
	conf := flag.String("containers-conf", "", "containers.conf for podman (SHIM_METRICS=1 for the monitors)")
	scratch := flag.String("work", "", "scratch directory")
	flag.Parse()
	if len(monitors) == 0 || *conf == "" || *scratch == "" {
		fmt.Fprintln(os.Stderr, "usage: soak -containers-conf FILE -work DIR -monitor BIN [-monitor BIN]")
		os.Exit(2)
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	cfg.conf, cfg.scratch = *conf, *scratch
	r, err := newReaper()
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}

	// Containers to remove if we are interrupted.
	var mu sync.Mutex
	live := map[string]*podman{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		mu.Lock()
		for name, pm := range live {
			pm.remove(name)
		}
		os.Exit(130)
	}()

	var results []*result
	failed := false
	for _, mon := range monitors {
		pm := &podman{r: r, opts: cfg.podmanOpts, monitor: mon, scratch: cfg.scratch,
			env: append(environWithout("CONTAINERS_CONF"), "CONTAINERS_CONF="+cfg.conf)}
		name := fmt.Sprintf("soak-%d-%s", os.Getpid(), filepath.Base(mon))
		mu.Lock()
		live[name] = pm
		mu.Unlock()
		res, err := runOne(cfg, r, pm, name)
		pm.remove(name)
		mu.Lock()
		delete(live, name)
		mu.Unlock()
		if err != nil {
			fmt.Fprintf(os.Stderr, "soak: %s: %v\n", mon, err)
			os.Exit(2)
		}
		printResult(os.Stdout, res)
		results = append(results, res)
		failed = failed || len(res.broken) > 0 || slices.ContainsFunc(res.rows, row.failed)
	}
	if len(results) > 1 {
		printCompare(os.Stdout, results)
	}
	if failed {
		os.Exit(1)
	}
}

func runOne(cfg config, r *reaper, pm *podman, name string) (*result, error) {
	ctr, err := pm.startContainer(name, cfg.image, cfg.logMax)
	if err != nil {
		return nil, err
	}
	st, err := probe.ReadStat(ctr.monPid)
	if err != nil {
		return nil, fmt.Errorf("monitor %d: %w", ctr.monPid, err)
	}
	r.watchComm(st.Comm)
	s := &soak{r: r, pm: pm, ctr: ctr}
	res := &result{label: filepath.Base(pm.monitor), monitor: pm.monitor, ctr: ctr}
	// Let the monitor finish starting (first reads, the first scrape's
	// allocations) before the figures everything is held to.
	time.Sleep(time.Second)
	if _, err := ctr.snapshot(); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	if res.start, err = ctr.snapshot(); err != nil {
		return nil, err
	}
	res.load[0] = loadavg()
	before := res.start
	for _, ph := range cfg.phases {
		if ph.count <= 0 {
			continue
		}
		fmt.Fprintf(os.Stderr, "soak: %s: %s x %d\n", res.label, ph.name, ph.count)
		rw, err := runPhase(s, cfg.settle, ph.name, ph.count, before, func() work { return ph.run(s, ph.count) })
		if err != nil {
			return nil, err
		}
		res.rows = append(res.rows, rw)
		if ph.then != nil {
			cpu0 := rw.after.cpu
			if rw, err = runPhase(s, cfg.settle, ph.thenName, 1, before, func() work { return ph.then(s) }); err != nil {
				return nil, err
			}
			rw.monCPU = rw.after.cpu - cpu0
			res.rows = append(res.rows, rw)
		}
		before = rw.after
	}
	res.end = before
	res.load[1] = loadavg()
	res.broken = violations(res.start, res.end)
	return res, nil
}

// runPhase runs do, then lets the figures settle and checks them against
// before.
func runPhase(s *soak, settle time.Duration, name string, count int, before snapshot, do func() work) (row, error) {
	t0 := time.Now()
	w := do()
	wall := time.Since(t0)
	after, broken, err := s.ctr.settle(before, settle)
	if err != nil {
		return row{}, fmt.Errorf("after %s: %w", name, err)
	}
	return row{phase: name, count: count, wall: wall, monCPU: after.cpu - before.cpu,
		w: w, before: before, after: after, broken: broken}, nil
}

// loadConfig reads the SOAK_* environment (defaults: issue 11's counts).
func loadConfig() (config, error) {
	cfg := config{
		podmanOpts: strings.Fields(os.Getenv("PODMAN_OPTS")),
		image:      envOr("IMAGE", "localhost/shim-busybox:latest"),
		logMax:     envOr("SOAK_LOG_MAX", "10m"),
	}
	settle, err := strconv.ParseFloat(envOr("SOAK_SETTLE", "5"), 64)
	if err != nil {
		return cfg, fmt.Errorf("SOAK_SETTLE: %w", err)
	}
	cfg.settle = time.Duration(settle * float64(time.Second))
	all := []struct {
		name, env string
		def       int
		run       func(*soak, int) work
	}{
		{"ctl", "SOAK_CTL", 10000, ctl},
		{"logs-mib", "SOAK_LOG_MIB", 1024, logs},
		{"exec-sync", "SOAK_EXEC_SYNC", 10000, execSync},
		{"podman-exec", "SOAK_PODMAN_EXEC", 1000, podmanExec},
		{"attach", "SOAK_ATTACH", 10000, attach},
	}
	for _, p := range all {
		n, err := strconv.Atoi(envOr(p.env, strconv.Itoa(p.def)))
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", p.env, err)
		}
		cfg.phases = append(cfg.phases, phase{name: p.name, count: n, run: p.run})
	}
	// The attach row holds the monitor to noticing hang-ups by itself; the
	// next, after one line of output, to letting go of them at the latest
	// then.
	att := &cfg.phases[len(cfg.phases)-1]
	att.then, att.thenName = oneLine, "+1 line"
	return cfg, nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// environWithout is the environment without key (os.StartProcess passes
// duplicates on, and a Go child would take the first).
func environWithout(key string) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
