package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// helperEnv makes the test binary, exec'd as a launched program, print a
// fact about itself instead of running the tests (see runHelper).
const helperEnv = "_SHIM_OCI_TEST_HELPER"

// TestMain makes the launcher real: Start re-executes /proc/self/exe, which in
// a test binary is the test binary, so it must behave like cmd/shim's main.
func TestMain(m *testing.M) {
	if IsLauncher() {
		RunLauncher()
	}
	if h, ok := os.LookupEnv(helperEnv); ok {
		runHelper(h)
	}
	os.Exit(m.Run())
}

func runHelper(what string) {
	switch what {
	case "pdeathsig":
		var sig int32
		if err := unix.Prctl(unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "prctl:", err)
			os.Exit(2)
		}
		fmt.Print(sig)
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", what)
	os.Exit(2)
}

const waitTimeout = 10 * time.Second

// newReaper starts a reaper that is stopped when the test ends. Tests that
// start children are not parallel: one wait4(-1) loop at a time.
func newReaper(t *testing.T) *Reaper {
	t.Helper()
	r := StartReaper()
	t.Cleanup(r.Stop)
	return r
}

// waitFor returns pid's wait status or fails the test after waitTimeout.
func waitFor(t *testing.T, r *Reaper, pid int) unix.WaitStatus {
	t.Helper()
	select {
	case ws := <-r.Wait(pid):
		return ws
	case <-time.After(waitTimeout):
		r.Forget(pid)
		t.Fatalf("pid %d: no exit reported within %v", pid, waitTimeout)
		return 0
	}
}

func openFile(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

type result struct {
	pid            int
	ws             unix.WaitStatus
	stdout, stderr string
}

// run starts l with stdin /dev/null and stdout/stderr in files (unless l.Files
// is set), waits for it and returns what it wrote.
func run(t *testing.T, r *Reaper, l Launch) result {
	t.Helper()
	dir := t.TempDir()
	outPath, errPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	if l.Files == nil {
		null := openFile(t, os.DevNull, os.O_RDONLY)
		out := openFile(t, outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
		errf := openFile(t, errPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
		l.Files = []int{int(null.Fd()), int(out.Fd()), int(errf.Fd())}
	}
	pid, err := Start(l)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	res := result{pid: pid, ws: waitFor(t, r, pid)}
	if b, err := os.ReadFile(outPath); err == nil {
		res.stdout = string(b)
	}
	if b, err := os.ReadFile(errPath); err == nil {
		res.stderr = string(b)
	}
	return res
}

// wantExit fails unless res is a normal exit with status code.
func wantExit(t *testing.T, res result, code int) {
	t.Helper()
	if !res.ws.Exited() || res.ws.ExitStatus() != code {
		t.Fatalf("wait status %#x (exited %v, status %d, signaled %v %v), want exit %d; stderr %q",
			uint32(res.ws), res.ws.Exited(), res.ws.ExitStatus(), res.ws.Signaled(), res.ws.Signal(), code, res.stderr)
	}
}

func sh(script string, args ...string) Launch {
	return Launch{
		Path:           "/bin/sh",
		Argv:           append([]string{"sh", "-c", script}, args...),
		ExecFailStatus: 127,
	}
}

func TestLauncherArgv(t *testing.T) {
	r := newReaper(t)
	const script = `/bin/cat /proc/$$/cmdline; printf '%s|' "$0" "$@"`
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"plain", []string{"sh", "-c", script, "zero", "one"}},
		{"empty args", []string{"sh", "-c", script, "zero", "", "a b", "", "-n", "$HOME", `"q"`, "ünï", ""}},
		{"only empty", []string{"sh", "-c", script, "", ""}},
		{"odd argv0", []string{"/a very odd argv0", "-c", script, "x"}},
		{"empty argv0", []string{"", "-c", script, "x", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, Launch{Path: "/bin/sh", Argv: slices.Clone(tc.argv), ExecFailStatus: 127})
			wantExit(t, res, 0)
			// cat shows argv as the kernel has it, argv[0] included;
			// printf shows what the shell made of it.
			want := strings.Join(tc.argv, "\x00") + "\x00" + strings.Join(tc.argv[3:], "|") + "|"
			if res.stdout != want {
				t.Errorf("got %q\nwant %q", res.stdout, want)
			}
		})
	}
}

func TestLauncherEnv(t *testing.T) {
	r := newReaper(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"none", nil},
		{"some", []string{"FOO=bar", "EMPTY=", "EQ=a=b=c", "SP=with space", "NL=two\nlines", "_OCI_SYNCPIPE=3", "PATH=/usr/bin:/bin"}},
		{"shim-like names", []string{"_SHIM=1", "_SHIM_LAUNCHX=keep", "X_SHIM_LAUNCH=keep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// cat of /proc/self/environ: the program's environment
			// byte for byte, as execve gave it.
			res := run(t, r, Launch{Path: "/bin/cat", Argv: []string{"cat", "/proc/self/environ"},
				Env: slices.Clone(tc.env), ExecFailStatus: 127})
			wantExit(t, res, 0)
			want := ""
			for _, e := range tc.env {
				want += e + "\x00"
			}
			if res.stdout != want {
				t.Errorf("environment %q, want %q", res.stdout, want)
			}
			for _, e := range strings.Split(res.stdout, "\x00") {
				if strings.HasPrefix(e, launchEnv+"=") {
					t.Errorf("%s leaked into the program: %q", launchEnv, e)
				}
			}
		})
	}
}

func TestLauncherDir(t *testing.T) {
	r := newReaper(t)
	dir := t.TempDir()
	res := run(t, r, Launch{Path: "/bin/sh", Argv: []string{"sh", "-c", "pwd -P"}, Dir: dir, ExecFailStatus: 127})
	wantExit(t, res, 0)
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(res.stdout, "\n"); got != want {
		t.Errorf("cwd %q, want %q", got, want)
	}
}

// fdLinks lists /proc/<pid>/fd as fd number → link target.
func fdLinks(t *testing.T, pid string) map[int]string {
	t.Helper()
	dir := "/proc/" + pid + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[int]string)
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			m[n] = target
		}
	}
	return m
}

func TestLauncherFiles(t *testing.T) {
	r := newReaper(t)
	dir := t.TempDir()
	inR, inW := pipe(t)
	outR, outW := pipe(t)
	errf := openFile(t, filepath.Join(dir, "stderr"), os.O_WRONLY|os.O_CREATE)
	a := openFile(t, filepath.Join(dir, "a"), os.O_RDWR|os.O_CREATE)
	b := openFile(t, filepath.Join(dir, "b"), os.O_RDWR|os.O_CREATE)
	// Not handed down: Go opens it close-on-exec, so it must not appear.
	openFile(t, filepath.Join(dir, "c"), os.O_RDWR|os.O_CREATE)

	// cat copies stdin to stdout and opens nothing: once it has echoed a
	// line it is past the dynamic loader and its fd table is what it got.
	pid, err := Start(Launch{
		Path: "/bin/cat", Argv: []string{"cat"}, ExecFailStatus: 127,
		Files: []int{int(inR.Fd()), int(outW.Fd()), int(errf.Fd()), -1, int(a.Fd()), -1, int(b.Fd())},
	})
	if err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	if _, err := inW.WriteString("ping\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := outR.Read(buf); err != nil || string(buf) != "ping\n" {
		t.Fatalf("cat echoed %q, %v; stderr %q", buf, err, readFile(t, errf.Name()))
	}

	got := fdLinks(t, strconv.Itoa(pid))
	self := fdLinks(t, "self")
	want := map[int]string{
		0: self[int(inW.Fd())], // the same pipe as our write end
		1: self[int(outR.Fd())],
		2: errf.Name(),
		4: a.Name(),
		6: b.Name(),
	}
	// Beyond the mapped numbers, fds this process holds without
	// close-on-exec (inherited from whoever started the test) are passed on
	// at their numbers, as the engine's fds must be (§4).
	for n, target := range self {
		if flags, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 && n > 6 {
			want[n] = target
		}
	}
	for n, target := range want {
		if got[n] != target {
			t.Errorf("fd %d → %q, want %q", n, got[n], target)
		}
	}
	for n, target := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected fd %d → %q in the program", n, target)
		}
	}

	inW.Close() // EOF: cat exits 0
	if ws := waitFor(t, r, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("cat: wait status %#x", uint32(ws))
	}
}

// blockedInRead reports whether some thread of pid sits in read(fd).
func blockedInRead(pid, fd int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	prefix := fmt.Sprintf("%d %#x ", unix.SYS_READ, fd)
	for _, p := range tasks {
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), prefix) {
			return true
		}
	}
	return false
}

func TestLauncherStartFd(t *testing.T) {
	for _, tc := range []struct {
		name string
		goes func(w *os.File) error
	}{
		{"byte", func(w *os.File) error { _, err := w.Write([]byte{0}); return err }},
		{"eof", func(w *os.File) error { return w.Close() }}, // EOF counts as "go" (§5.3)
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReaper(t)
			dir := t.TempDir()
			marker := filepath.Join(dir, "marker")
			startR, startW := pipe(t)
			null := openFile(t, os.DevNull, os.O_RDWR)
			errf := openFile(t, filepath.Join(dir, "stderr"), os.O_WRONLY|os.O_CREATE)
			// The start fd must not reach the program: record whether fd 3 is open.
			l := sh(`if [ -e /proc/$$/fd/3 ]; then echo open; else echo closed; fi > "$0"`, marker)
			l.Files = []int{int(null.Fd()), int(null.Fd()), int(errf.Fd()), int(startR.Fd())}
			l.StartFd = 3
			pid, err := Start(l)
			if err != nil {
				t.Fatal(err)
			}
			startR.Close()
			if !testutil.Within(waitTimeout, func() bool { return blockedInRead(pid, 3) }) {
				t.Fatalf("launcher %d never blocked reading the start fd; stderr %q", pid, readFile(t, errf.Name()))
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the program ran before the start byte was written")
			}
			select {
			case ws := <-r.Wait(pid):
				t.Fatalf("launcher exited (%#x) before the start byte was written", uint32(ws))
			default:
			}
			if err := tc.goes(startW); err != nil {
				t.Fatal(err)
			}
			res := result{ws: waitFor(t, r, pid), stderr: readFile(t, errf.Name())}
			wantExit(t, res, 0)
			if got := readFile(t, marker); got != "closed\n" {
				t.Errorf("start fd in the program: %q, want closed", got)
			}
		})
	}
}

func TestLauncherStartFdReadError(t *testing.T) {
	r := newReaper(t)
	marker := filepath.Join(t.TempDir(), "marker")
	l := sh(`: > "$0"`, marker)
	l.StartFd = 9 // not open in the launcher: EBADF
	res := run(t, r, l)
	wantExit(t, res, 1)
	if want := "[conmon:e]: start-pipe read failed Bad file descriptor\n"; res.stderr != want {
		t.Errorf("stderr %q, want %q", res.stderr, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran although reading the start fd failed")
	}
}

func TestLauncherListenPid(t *testing.T) {
	r := newReaper(t)
	me := strconv.Itoa(os.Getpid()) // the launcher's parent
	other := "12345"
	if other == me {
		other = "12346"
	}
	const rewritten = "<child pid>"
	for _, tc := range []struct {
		name    string
		value   *string
		replace bool
		want    string
	}{
		{"unset", nil, false, "unset"},
		{"unset replace", nil, true, "unset"},
		{"parent pid", &me, false, rewritten},
		{"parent pid replace", &me, true, rewritten},
		{"parent pid strtol", ptr(" +" + me + "junk"), false, rewritten},
		{"other pid", &other, false, other},
		{"other pid replace", &other, true, rewritten},
		{"other with junk", ptr(other + "abc"), false, other + "abc"},
		{"other with junk replace", ptr(other + "abc"), true, rewritten},
		// conmon keeps strtol's long in an int: 2^32+1 is 1, valid and not ours.
		{"wraps to 1", ptr("4294967297"), false, "4294967297"},
		{"wraps to parent pid", ptr(strconv.Itoa(os.Getpid() + 1<<32)), false, rewritten},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			if tc.value != nil {
				env = []string{"LISTEN_PID=" + *tc.value}
			}
			l := sh(`printf '%s|%s' "$$" "${LISTEN_PID-unset}"`)
			l.Env, l.ReplaceListenPid = env, tc.replace
			res := run(t, r, l)
			wantExit(t, res, 0)
			shellPid, got, _ := strings.Cut(res.stdout, "|")
			if shellPid != strconv.Itoa(res.pid) {
				t.Fatalf("program pid %s, Start returned %d: the launcher did not exec in place", shellPid, res.pid)
			}
			want := tc.want
			if want == rewritten {
				want = strconv.Itoa(res.pid)
			}
			if got != want {
				t.Errorf("LISTEN_PID=%q in the program, want %q", got, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLauncherInvalidListenPid(t *testing.T) {
	r := newReaper(t)
	// Messages as conmon 2.1.6 prints them (checked with strace): strtol
	// leaves errno 0 for "no digits" and for values <= 0, so strerror
	// says "Success"; the value is cut to 10 bytes.
	for _, tc := range []struct{ value, want string }{
		{"abc", "Invalid LISTEN_PID abc Success"},
		{"", "Invalid LISTEN_PID  Success"},
		{"0", "Invalid LISTEN_PID 0 Success"},
		{"-5", "Invalid LISTEN_PID -5 Success"},
		{"2147483648", "Invalid LISTEN_PID 2147483648 Success"}, // int overflow: negative in conmon
		{"99999999999999999999", "Invalid LISTEN_PID 9999999999 Numerical result out of range"},
		{"-99999999999999999999", "Invalid LISTEN_PID -999999999 Numerical result out of range"},
	} {
		for _, replace := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q/replace=%v", tc.value, replace), func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "marker")
				l := sh(`: > "$0"`, marker)
				l.Env = []string{"LISTEN_PID=" + tc.value}
				l.ReplaceListenPid = replace
				res := run(t, r, l)
				wantExit(t, res, 1)
				if want := "[conmon:e]: " + tc.want + "\n"; res.stderr != want {
					t.Errorf("stderr %q, want %q", res.stderr, want)
				}
				if _, err := os.Stat(marker); err == nil {
					t.Error("the program ran despite the invalid LISTEN_PID")
				}
			})
		}
	}
}

func TestLauncherExecFailStatus(t *testing.T) {
	r := newReaper(t)
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		status int
		errno  string
	}{
		{filepath.Join(dir, "missing"), 127, "No such file or directory"},
		{filepath.Join(dir, "missing"), 1, "No such file or directory"},
		{dir, 127, "Permission denied"},
		{notExec, 127, "Permission denied"}, // even root needs an x bit
	} {
		t.Run(fmt.Sprintf("%s/%d", filepath.Base(tc.path), tc.status), func(t *testing.T) {
			res := run(t, r, Launch{Path: tc.path, Argv: []string{"prog", "arg"}, ExecFailStatus: tc.status})
			wantExit(t, res, tc.status)
			if !strings.Contains(res.stderr, tc.path) || !strings.Contains(res.stderr, tc.errno) {
				t.Errorf("stderr %q does not name %s and %q", res.stderr, tc.path, tc.errno)
			}
		})
	}
}

func TestLauncherDelay(t *testing.T) {
	r := newReaper(t)
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			begin := time.Now()
			res := run(t, r, Launch{Path: "/bin/true", Argv: []string{"true"}, Delay: delay, ExecFailStatus: 127})
			took := time.Since(begin)
			wantExit(t, res, 0)
			if took < delay {
				t.Errorf("program ran after %v, want at least %v", took, delay)
			}
		})
	}
}

func readOOMScoreAdj(t *testing.T) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(readFile(t, "/proc/self/oom_score_adj")))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLauncherOOMScoreAdj(t *testing.T) {
	r := newReaper(t)
	cur := readOOMScoreAdj(t)
	// Raising the score is always allowed; lowering it needs CAP_SYS_RESOURCE.
	target := 500
	if os.Getuid() != 0 || cur >= target {
		target = cur + 1
	}
	if target > 1000 {
		t.Fatalf("oom_score_adj of the test process is %d: cannot pick a higher value; run the tests with a lower one", cur)
	}
	for _, tc := range []struct {
		name, value string
		want        int
	}{
		{"set", strconv.Itoa(target), target},
		{"unset inherits", "", cur},
		{"invalid ignored", "abc", cur}, // best effort: the program still runs
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, Launch{Path: "/bin/cat", Argv: []string{"cat", "/proc/self/oom_score_adj"},
				OOMScoreAdj: tc.value, ExecFailStatus: 127})
			wantExit(t, res, 0)
			if got := strings.TrimSpace(res.stdout); got != strconv.Itoa(tc.want) {
				t.Errorf("program's oom_score_adj %q, want %d", got, tc.want)
			}
		})
	}
	if got := readOOMScoreAdj(t); got != cur {
		t.Errorf("test process oom_score_adj changed from %d to %d", cur, got)
	}
}

func TestLauncherFixStdioMode(t *testing.T) {
	var nullBefore unix.Stat_t
	if err := unix.Stat(os.DevNull, &nullBefore); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // never leave /dev/null changed, whatever happened
		var st unix.Stat_t
		if unix.Stat(os.DevNull, &st) == nil && st.Mode != nullBefore.Mode {
			unix.Chmod(os.DevNull, nullBefore.Mode&0o7777)
			t.Errorf("/dev/null mode changed from %o to %o", nullBefore.Mode, st.Mode)
		}
	})
	r := newReaper(t)
	mode := func(f *os.File) uint32 {
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return st.Mode & 0o7777
	}
	for _, fix := range []bool{false, true} {
		t.Run(fmt.Sprintf("fix=%v", fix), func(t *testing.T) {
			dir := t.TempDir()
			null := openFile(t, os.DevNull, os.O_RDONLY)
			_, outW := pipe(t)
			errf := openFile(t, filepath.Join(dir, "stderr"), os.O_WRONLY|os.O_CREATE)
			pipeBefore, fileBefore := mode(outW), mode(errf)
			if pipeBefore == 0o777 || fileBefore == 0o777 {
				t.Fatalf("modes already 0777: pipe %o file %o", pipeBefore, fileBefore)
			}
			res := run(t, r, Launch{Path: "/bin/true", Argv: []string{"true"}, ExecFailStatus: 127,
				FixStdioMode: fix, Files: []int{int(null.Fd()), int(outW.Fd()), int(errf.Fd())}})
			res.stderr = readFile(t, errf.Name())
			wantExit(t, res, 0)
			wantPipe, wantFile := pipeBefore, fileBefore
			if fix {
				wantPipe, wantFile = 0o777, 0o777
			}
			if got := mode(outW); got != wantPipe {
				t.Errorf("stdout pipe mode %o, want %o", got, wantPipe)
			}
			if got := mode(errf); got != wantFile {
				t.Errorf("stderr file mode %o, want %o", got, wantFile)
			}
			if got := mode(null); got != nullBefore.Mode&0o7777 {
				t.Errorf("/dev/null mode %o, want %o", got, nullBefore.Mode&0o7777)
			}
		})
	}
}

func TestLauncherPdeathsig(t *testing.T) {
	r := newReaper(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		noPdeathsig bool
		want        string
	}{
		{false, strconv.Itoa(int(unix.SIGKILL))},
		{true, "0"},
	} {
		t.Run(fmt.Sprintf("NoPdeathsig=%v", tc.noPdeathsig), func(t *testing.T) {
			res := run(t, r, Launch{Path: self, Argv: []string{"helper"}, Env: []string{helperEnv + "=pdeathsig"},
				NoPdeathsig: tc.noPdeathsig, ExecFailStatus: 127})
			wantExit(t, res, 0)
			if res.stdout != tc.want {
				t.Errorf("parent-death signal %q, want %q", res.stdout, tc.want)
			}
		})
	}
}

func TestStartError(t *testing.T) {
	// Start itself fails only when the launcher cannot be started at all,
	// e.g. a Dir that does not exist; the error names the program.
	_, err := Start(Launch{Path: "/bin/true", Argv: []string{"true"}, Dir: "/nonexistent-dir-for-shim-test"})
	if err == nil || !strings.Contains(err.Error(), "/bin/true") || !errors.Is(err, unix.ENOENT) {
		t.Errorf("Start with a missing Dir: %v", err)
	}
}
