package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cli"
	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/diag"
	"github.com/shim-project/shim/oci"
)

// daemonEnv marks the re-executed monitor. Its value is the oom_score_adj
// the first process found, to be given back to children, and, after a "|",
// "1" when the first process added GOMAXPROCS=1 to the daemon's environment.
//
// One P is plenty for a monitor (conmon is single-threaded) and saves about
// 200 KiB per container: fewer per-P caches and fewer threads, each of which
// costs 48 KiB of stacks. GOMAXPROCS is read once at start, so the daemon
// drops the variable again and its children see the engine's environment.
const daemonEnv = "_SHIM_DAEMON"

// run is the whole program after mode selection; it returns the exit status.
func run(args []string) int {
	inherited := inheritedFds()
	cfg, err := cli.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, cli.ParseErrorText(err))
		return 1
	}
	if cfg.Help {
		cli.WriteHelp(os.Stdout)
		return 0
	}
	if cfg.Version {
		cli.WriteVersion(os.Stdout)
		return 0
	}
	setup, err := validate(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	daemonVal, isDaemon := os.LookupEnv(daemonEnv)
	lg := newDiag(cfg)
	if !isDaemon {
		// Through lg, so that --syslog sees it too (row t of §1.3).
		if w := partialWarning(cfg, setup); w != "" {
			lg.Warnf("%s", strings.TrimPrefix(w, cabi.WarnPrefix))
		}
	}
	if isDaemon {
		os.Unsetenv(daemonEnv)
		oldAdj, addedProcs, _ := strings.Cut(daemonVal, "|")
		if addedProcs == "1" {
			os.Unsetenv("GOMAXPROCS")
		}
		return runMonitor(cfg, setup, lg, inherited, oldAdj)
	}
	oldAdj := lowerOOMScore(lg)
	// Until the runtime is started a SIGTERM ends us at once (conmon _exit(1)s).
	earlyTerm := make(chan os.Signal, 1)
	signal.Notify(earlyTerm, unix.SIGTERM)
	go func() { <-earlyTerm; os.Exit(1) }()
	if err := readStartPipe(); err != nil {
		lg.Errorf("%v", err)
		return 1
	}
	if cfg.Sync {
		signal.Stop(earlyTerm)
		return runMonitor(cfg, setup, lg, inherited, oldAdj)
	}
	setup.Close()
	return daemonize(cfg, lg, inherited, oldAdj)
}

// daemonize re-executes this binary as the long-lived monitor in a new
// session, handing down every inherited fd at its number, writes the
// monitor's pid to --conmon-pidfile and lets the engine's Wait() return.
func daemonize(cfg *cli.Config, lg *diag.Logger, inherited []int, oldAdj string) int {
	files := []int{0, 1, 2}
	for _, fd := range inherited {
		for len(files) <= fd {
			files = append(files, -1)
		}
		files[fd] = fd
	}
	env := os.Environ()
	marker := oldAdj + "|0"
	if _, ok := os.LookupEnv("GOMAXPROCS"); !ok {
		env = append(env, "GOMAXPROCS=1")
		marker = oldAdj + "|1"
	}
	env = append(env, daemonEnv+"="+marker)
	pid, err := cabi.Reexec(os.Args, env, files, "", &syscall.SysProcAttr{Setsid: true})
	if err != nil {
		lg.Errorf("Failed to fork: %v", err)
		return 1
	}
	if cfg.ConmonPidfile != "" {
		if err := exitcode.WriteAtomic(cfg.ConmonPidfile, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			lg.Errorf("Failed to write conmon pidfile: %v", err)
			return 1
		}
	}
	return 0
}

// newDiag is the monitor's logger as the command line asks for it.
func newDiag(cfg *cli.Config) *diag.Logger {
	return diag.New(diag.Options{LogLevel: cfg.LogLevel, Syslog: cfg.Syslog, Cid: cfg.Cid, LogTag: cfg.LogTag, LogTagSet: cfg.LogTagSet})
}

// inheritedFds lists the fds above stdio the engine gave us: those open
// without FD_CLOEXEC when we start (the Go runtime's own are all CLOEXEC).
//
// The listing is read into a buffer on the stack, not with os.ReadDir,
// whose 8 KiB directory buffer and per-entry allocations would stay in the
// daemon's heap for its whole life (docs/memory.md).
func inheritedFds() []int {
	dir, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	var fds []int
	var buf [512]byte
	for {
		n, err := unix.Getdents(dir, buf[:])
		if err != nil || n <= 0 {
			return fds
		}
		for rec := buf[:n]; len(rec) > 0; {
			fd, next, ok := cabi.DirentFd(rec)
			if !ok {
				return fds
			}
			rec = next
			if fd < 3 {
				continue
			}
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC != 0 {
				continue
			}
			fds = append(fds, fd)
		}
	}
}

// readStartPipe blocks until the engine says go (§5.3): it first moves this
// process into the container's cgroup, so no child may exist before this.
func readStartPipe() error {
	v, ok := os.LookupEnv("_OCI_STARTPIPE")
	if !ok {
		return nil
	}
	fd, err := oci.ParseFdEnv("_OCI_STARTPIPE", v)
	if err != nil {
		return err
	}
	if fd <= 0 {
		return nil
	}
	if err := oci.SetCloexec("_OCI_STARTPIPE", fd); err != nil {
		return err
	}
	return cabi.ReadStartPipe(fd)
}

// lowerOOMScore makes the monitor the last thing the OOM killer picks and
// returns the previous value for the children.
func lowerOOMScore(lg *diag.Logger) string {
	old, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return ""
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0); err != nil {
		lg.Debugf("Failed to write oom_score_adj: %v", err)
	}
	s := string(old)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
