package oci

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/strerror"
)

// launchEnv carries the launcher's settings from the monitor to the launcher
// (the same binary, re-executed). The launcher removes it before it execs the
// real program, so the runtime sees the monitor's environment unchanged.
const launchEnv = "_SHIM_LAUNCH"

// Launch describes a child started through the launcher. Go cannot run code
// between fork and exec, so the steps conmon performs in its forked child
// (LISTEN_PID, the second start byte, oom_score_adj, a delay) happen in a
// short-lived re-exec of this binary that then execve's Path in place,
// keeping its pid (which LISTEN_PID must name).
//
//	monitor ──fork/exec /proc/self/exe (env _SHIM_LAUNCH)──▶ launcher
//	                                                          │ fixes, waits, sleeps
//	                                                          └─execve(Path)──▶ runtime
type Launch struct {
	Path string   // program, no PATH search
	Argv []string // argv[0] included
	Env  []string
	Dir  string
	// Files maps child fd numbers to parent fds; -1 leaves that number closed.
	// Not so for 0-2: the launcher is a Go program, whose runtime opens
	// /dev/null on a missing stdio fd before we run, and the program inherits
	// that. Callers pass /dev/null explicitly.
	Files []int

	FixStdioMode     bool // fchmod fds 0-2 to 0777 unless they are /dev/null
	ReplaceListenPid bool // --replace-listen-pid
	StartFd          int  // >0: read one "go" byte from this fd before exec (exec-attach)
	OOMScoreAdj      string
	Delay            time.Duration
	ExecFailStatus   int // launcher exit status when execve fails (127 runtime, 1 exit command)
	Setsid           bool
	NoPdeathsig      bool
}

// Start starts l through the launcher and returns the child's pid. The caller
// collects its exit through the Reaper.
func Start(l Launch) (int, error) {
	// /proc/self/exe, not os.Executable(): the path may meanwhile name a
	// newer binary (make install while containers run).
	const self = "/proc/self/exe"
	env := append(append([]string(nil), l.Env...), launchEnv+"="+l.encode())
	files := make([]uintptr, len(l.Files))
	for i, fd := range l.Files {
		files[i] = uintptr(fd)
	}
	sys := &syscall.SysProcAttr{Setsid: l.Setsid}
	if !l.NoPdeathsig {
		sys.Pdeathsig = syscall.SIGKILL
	}
	pid, err := syscall.ForkExec(self, l.Argv, &syscall.ProcAttr{
		Dir: l.Dir, Env: env, Files: files, Sys: sys,
	})
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", l.Path, err)
	}
	return pid, nil
}

func (l Launch) encode() string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return strings.Join([]string{
		b(l.FixStdioMode), b(l.ReplaceListenPid), strconv.Itoa(l.StartFd),
		l.OOMScoreAdj, strconv.FormatInt(int64(l.Delay), 10),
		strconv.Itoa(l.ExecFailStatus), l.Path,
	}, ",")
}

// IsLauncher reports whether this process was started as a launcher.
func IsLauncher() bool {
	_, ok := os.LookupEnv(launchEnv)
	return ok
}

// RunLauncher performs the launcher's steps and execs the program. It only
// returns by exiting the process.
func RunLauncher() {
	v := os.Getenv(launchEnv)
	os.Unsetenv(launchEnv)
	parts := strings.SplitN(v, ",", 7)
	if len(parts) != 7 {
		fmt.Fprintf(os.Stderr, "[conmon:e]: bad launcher settings %q\n", v)
		os.Exit(1)
	}
	startFd, _ := strconv.Atoi(parts[2])
	delay, _ := strconv.ParseInt(parts[4], 10, 64)
	failStatus, _ := strconv.Atoi(parts[5])
	path := parts[6]

	if parts[0] == "1" {
		fixStdioMode()
	}
	if err := fixListenPid(parts[1] == "1"); err != nil {
		fmt.Fprintf(os.Stderr, "[conmon:e]: %v\n", err)
		os.Exit(1)
	}
	if startFd > 0 {
		buf := make([]byte, 8192)
		if _, err := unix.Read(startFd, buf); err != nil {
			fmt.Fprintf(os.Stderr, "[conmon:e]: start-pipe read failed %s\n", strerror.Text(err))
			os.Exit(1)
		}
		unix.Close(startFd)
	}
	if parts[3] != "" {
		// Best effort: the monitor lowered its own score; the child gets the
		// caller's back. Failure (rootless) only matters to the monitor.
		_ = os.WriteFile("/proc/self/oom_score_adj", []byte(parts[3]), 0)
	}
	if delay > 0 {
		time.Sleep(time.Duration(delay))
	}
	err := unix.Exec(path, os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "[conmon:e]: exec %s: %s\n", path, strerror.Text(err))
	os.Exit(failStatus)
}

// fixStdioMode makes the container's stdio pipes usable by any user inside
// the container (a user namespace may map root elsewhere), as conmon does.
func fixStdioMode() {
	var null unix.Stat_t
	nullErr := unix.Stat("/dev/null", &null)
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue
		}
		if nullErr == nil && st.Rdev == null.Rdev && st.Mode&unix.S_IFMT == unix.S_IFCHR {
			continue
		}
		_ = unix.Fchmod(fd, 0o777) // EINVAL on some fd kinds: ignored as conmon does
	}
}

// fixListenPid implements §12.2: LISTEN_PID naming the monitor (or any value,
// with --replace-listen-pid) is rewritten to the pid that will become the
// runtime, so socket activation reaches the container.
func fixListenPid(replace bool) error {
	v, ok := os.LookupEnv("LISTEN_PID")
	if !ok {
		return nil
	}
	n, err := strtolPrefix(v)
	// conmon keeps strtol's long in an int (2147483648 is negative there),
	// and strtol leaves errno 0 for no digits or a value <= 0, so conmon
	// then prints "Success" (verified on 2.1.6).
	lpid := int32(n)
	if err != nil || lpid <= 0 {
		short := v
		if len(short) > 10 {
			short = short[:10]
		}
		return fmt.Errorf("Invalid LISTEN_PID %s %s", short, strerror.Text(err))
	}
	if replace || int(lpid) == os.Getppid() {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	return nil
}

// strtolPrefix parses like C strtol(v, &end, 10) ignoring trailing junk:
// leading spaces and a sign are accepted; no digits gives 0.
func strtolPrefix(v string) (int64, error) {
	s := strings.TrimLeft(v, " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, nil
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil {
		return 0, unix.ERANGE
	}
	return n, nil
}
