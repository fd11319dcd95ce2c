package oci

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
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
	NoPdeathsig      bool
}

// Start starts l through the launcher and returns the child's pid. The caller
// collects its exit through the Reaper.
func Start(l Launch) (int, error) {
	env := append(append([]string(nil), l.Env...), launchEnv+"="+l.encode())
	sys := &syscall.SysProcAttr{}
	if !l.NoPdeathsig {
		sys.Pdeathsig = syscall.SIGKILL
	}
	pid, err := cabi.Reexec(l.Argv, env, l.Files, l.Dir, sys)
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
		fmt.Fprintf(os.Stderr, "%sbad launcher settings %q\n", cabi.ErrorPrefix, v)
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
		fmt.Fprintf(os.Stderr, "%s%v\n", cabi.ErrorPrefix, err)
		os.Exit(1)
	}
	if startFd > 0 {
		if err := cabi.ReadStartPipe(startFd); err != nil {
			fmt.Fprintf(os.Stderr, "%s%v\n", cabi.ErrorPrefix, err)
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
	fmt.Fprintf(os.Stderr, "%sexec %s: %s\n", cabi.ErrorPrefix, path, strerror.Text(err))
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
	lpid, err := parseListenPid(v)
	if err != nil {
		return err
	}
	if replace || lpid == os.Getppid() {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	return nil
}

// parseListenPid reads a LISTEN_PID value as conmon does: strtol base 10,
// trailing text ignored, the long kept in an int (2147483648 is negative
// there), and a value <= 0 or out of range refused. strtol leaves errno 0
// for no digits or a value <= 0, so conmon then prints "Success" (verified
// on 2.1.6); the value in the message is cut to 10 bytes.
func parseListenPid(v string) (int, error) {
	n, _, errno := cabi.Strtol(v, 10)
	lpid := int32(n)
	if errno != 0 || lpid <= 0 {
		short := v
		if len(short) > 10 {
			short = short[:10]
		}
		return 0, cabi.Errno("Invalid LISTEN_PID "+short, errno)
	}
	return int(lpid), nil
}
