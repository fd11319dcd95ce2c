// Command benchlogs measures a monitor's log path: it runs containers that
// write a fixed amount of output through the monitor into a log driver and
// reports throughput and the monitor's own CPU time. hack/bench-logs.sh runs
// it; see there for the workloads.
//
// Each run drives the monitor as podman does (fork mode, _OCI_SYNCPIPE and
// _OCI_STARTPIPE socketpairs, `runc start` after the pid arrives), with runc
// directly and no podman. This process is a child subreaper, so the daemon
// (orphaned when the first process exits) becomes our child: we wait for it
// with WNOWAIT and read utime+stime of the zombie from /proc/PID/stat, which
// is the daemon's own CPU to the last tick, without its reaped children (the
// container's processes).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

type workload struct {
	key    string // for -only
	name   string
	driver string // "k8s-file" or "journald"
	data   string // file in the data dir, cat'ed copies times
	copies int
}

type sample struct {
	mibps  float64 // payload MiB per second, `runc start` to monitor exit
	cpuGiB float64 // monitor CPU seconds per GiB of payload
}

type bench struct {
	runc, rootfs, dataDir, logDir, work string
	spec                                *specs.Spec // the `runc spec` template
	seq                                 int
}

func main() {
	shim := flag.String("shim", "", "shim binary")
	ref := flag.String("conmon", "/usr/bin/conmon", "reference monitor")
	rounds := flag.Int("rounds", 3, "runs per monitor and workload")
	work := flag.String("work", "", "scratch directory (rootfs, data, bundles)")
	logDir := flag.String("logdir", "", "directory for the k8s-file logs (default: <work>/logs)")
	only := flag.String("only", "", "comma-separated workloads to run: k8s100,k8s64k,journald100 (default: all)")
	flag.Parse()
	if *shim == "" || *work == "" {
		fmt.Fprintln(os.Stderr, "usage: benchlogs -shim BIN -work DIR [-conmon BIN] [-rounds N] [-logdir DIR] [-only NAMES]")
		os.Exit(2)
	}
	if err := run(*shim, *ref, *rounds, *work, *logDir, *only); err != nil {
		fmt.Fprintln(os.Stderr, "benchlogs:", err)
		os.Exit(1)
	}
}

func run(shim, ref string, rounds int, work, logDir, only string) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	b := &bench{work: work, rootfs: filepath.Join(work, "rootfs"), dataDir: filepath.Join(work, "data"), logDir: logDir}
	if b.logDir == "" {
		b.logDir = filepath.Join(work, "logs")
	}
	if err := b.prepare(); err != nil {
		return err
	}
	all := []workload{
		// 16 MiB files cat'ed 32 times, a 4 MiB one 25 times: busybox cat
		// uses sendfile, so the producer costs little and the monitor is
		// the bottleneck.
		{"k8s100", "k8s-file 100-byte lines", "k8s-file", "lines100", 32},
		{"k8s64k", "k8s-file 64KiB lines", "k8s-file", "lines64k", 32},
		{"journald100", "journald 100-byte lines", "journald", "lines100s", 25},
	}
	var wls []workload
	for _, w := range all {
		if only == "" || strings.Contains(","+only+",", ","+w.key+",") {
			wls = append(wls, w)
		}
	}
	mons := []struct{ name, bin string }{{"shim", shim}, {"conmon", ref}}
	results := map[string]map[string][]sample{}
	for _, w := range wls {
		results[w.name] = map[string][]sample{}
		// Warm-up: page cache for the data, the binaries, runc.
		for _, m := range mons {
			if _, err := b.once(m.bin, w, 1); err != nil {
				return fmt.Errorf("%s, %s (warm-up): %w", w.name, m.name, err)
			}
		}
		for r := 0; r < rounds; r++ {
			order := mons
			if r%2 == 1 { // alternate who goes first
				order = []struct{ name, bin string }{mons[1], mons[0]}
			}
			for _, m := range order {
				s, err := b.once(m.bin, w, w.copies)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", w.name, m.name, err)
				}
				fmt.Fprintf(os.Stderr, "  %-26s %-7s round %d: %8.1f MiB/s %7.3f CPU s/GiB\n", w.name, m.name, r+1, s.mibps, s.cpuGiB)
				results[w.name][m.name] = append(results[w.name][m.name], s)
			}
		}
	}
	fmt.Printf("\n%-26s %-7s %12s %14s\n", "workload", "monitor", "MiB/s (med)", "CPU s/GiB (med)")
	for _, w := range wls {
		var med [2]sample
		for i, m := range mons {
			med[i] = median(results[w.name][m.name])
			fmt.Printf("%-26s %-7s %12.1f %14.3f\n", w.name, m.name, med[i].mibps, med[i].cpuGiB)
		}
		fmt.Printf("%-26s %-7s %11.2fx %13.2fx\n", w.name, "ratio", med[0].mibps/med[1].mibps, med[0].cpuGiB/med[1].cpuGiB)
	}
	fmt.Println("(ratio = shim/conmon: throughput higher is better, CPU per GiB lower is better)")
	return nil
}

func median(s []sample) sample {
	if len(s) == 0 {
		return sample{}
	}
	a := append([]sample(nil), s...)
	b := append([]sample(nil), s...)
	sort.Slice(a, func(i, j int) bool { return a[i].mibps < a[j].mibps })
	sort.Slice(b, func(i, j int) bool { return b[i].cpuGiB < b[j].cpuGiB })
	return sample{a[len(a)/2].mibps, b[len(b)/2].cpuGiB}
}

// prepare builds the rootfs, the data files and the config.json template.
func (b *bench) prepare() error {
	var err error
	if b.runc, err = exec.LookPath("runc"); err != nil {
		return fmt.Errorf("runc not found (%v): run hack/install-deps.sh", err)
	}
	here, err := os.Getwd()
	if err != nil {
		return err
	}
	if out, err := exec.Command(filepath.Join(here, "hack", "make-rootfs.sh"), b.rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("make-rootfs.sh: %v\n%s", err, out)
	}
	for _, d := range []string{b.dataDir, b.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// 16 and 4 MiB of 100-byte lines, and 256 lines of 64 KiB.
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	if err := os.WriteFile(filepath.Join(b.dataDir, "lines100"), bytes.Repeat(line, 16<<20/100), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.dataDir, "lines100s"), bytes.Repeat(line, 4<<20/100), 0o644); err != nil {
		return err
	}
	big := append(bytes.Repeat([]byte("y"), 64<<10-1), '\n')
	if err := os.WriteFile(filepath.Join(b.dataDir, "lines64k"), bytes.Repeat(big, 256), 0o644); err != nil {
		return err
	}
	specDir := filepath.Join(b.work, "spec")
	os.RemoveAll(specDir)
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command(b.runc, "spec", "--bundle", specDir).CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %v\n%s", err, out)
	}
	b.spec, err = testutil.ReadSpec(filepath.Join(specDir, "config.json"))
	return err
}

// bundle writes a bundle whose process cats the data file copies times.
func (b *bench) bundle(dir string, w workload, copies int) (int64, error) {
	fi, err := os.Stat(filepath.Join(b.dataDir, w.data))
	if err != nil {
		return 0, err
	}
	args := []string{"cat"}
	for i := 0; i < copies; i++ {
		args = append(args, "/data/"+w.data)
	}
	b.spec.Process.Args = args
	b.spec.Process.Terminal = false
	b.spec.Root = &specs.Root{Path: b.rootfs, Readonly: true}
	mounts := slices.DeleteFunc(slices.Clone(b.spec.Mounts), func(m specs.Mount) bool { return m.Destination == "/data" })
	b.spec.Mounts = append(mounts, specs.Mount{
		Destination: "/data", Type: "bind", Source: b.dataDir, Options: []string{"rbind", "ro"},
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	return fi.Size() * int64(copies), testutil.WriteSpec(filepath.Join(dir, "config.json"), b.spec)
}

// once runs one container under monitor bin and measures it.
func (b *bench) once(bin string, w workload, copies int) (sample, error) {
	b.seq++
	id := fmt.Sprintf("benchlogs%d%06d", os.Getpid(), b.seq) // > 12 chars: journald
	dir := filepath.Join(b.work, "run-"+id)
	bundle, exits, root := filepath.Join(dir, "bundle"), filepath.Join(dir, "exits"), filepath.Join(dir, "runc")
	logPath := filepath.Join(b.logDir, id+".log")
	defer func() {
		exec.Command(b.runc, "--root", root, "delete", "-f", id).Run()
		os.RemoveAll(dir)
		os.Remove(logPath)
	}()
	payload, err := b.bundle(bundle, w, copies)
	if err != nil {
		return sample{}, err
	}
	for _, d := range []string{exits, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return sample{}, err
		}
	}
	spec := "journald"
	if w.driver == "k8s-file" {
		spec = "k8s-file:" + logPath
	}
	ourSync, theirSync, err := seqpacket()
	if err != nil {
		return sample{}, err
	}
	defer ourSync.Close()
	ourStart, theirStart, err := seqpacket()
	if err != nil {
		return sample{}, err
	}
	defer ourStart.Close()
	cmd := exec.Command(bin, "--api-version", "1", "-c", id, "-u", id, "-r", b.runc, "-b", bundle,
		"-p", filepath.Join(bundle, "pidfile"), "-n", id, "--exit-dir", exits, "--full-attach",
		"-l", spec, "--log-level", "warning", "--runtime-arg", "--root="+root,
		"--conmon-pidfile", filepath.Join(bundle, "conmon.pid"),
		// fsync of the whole log at exit is disk time, the same for both.
		"--no-sync-log")
	cmd.Dir = bundle
	cmd.Env = append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4")
	cmd.ExtraFiles = []*os.File{theirSync, theirStart}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	theirSync.Close()
	theirStart.Close()
	if _, err := ourStart.Write([]byte{0}); err != nil {
		return sample{}, fmt.Errorf("start byte: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return sample{}, fmt.Errorf("first process: %v: %s", err, stderr.String())
	}
	daemon, err := readInt(filepath.Join(bundle, "conmon.pid"))
	if err != nil {
		return sample{}, err
	}
	msg := make([]byte, 4096)
	if err := ourSync.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return sample{}, err
	}
	n, err := ourSync.Read(msg)
	if err != nil || !bytes.Contains(msg[:n], []byte(`"data": `)) || bytes.Contains(msg[:n], []byte(`"data": -1`)) {
		return sample{}, fmt.Errorf("sync message %q (%v)", msg[:n], err)
	}
	t0 := time.Now()
	if out, err := exec.Command(b.runc, "--root", root, "start", id).CombinedOutput(); err != nil {
		return sample{}, fmt.Errorf("runc start: %v: %s", err, out)
	}
	cpu, err := waitCPU(daemon)
	elapsed := time.Since(t0)
	if err != nil {
		return sample{}, err
	}
	if st, err := os.ReadFile(filepath.Join(exits, id)); err != nil || string(st) != "0" {
		return sample{}, fmt.Errorf("exit file %q (%v)", st, err)
	}
	if w.driver == "k8s-file" {
		if fi, err := os.Stat(logPath); err != nil || fi.Size() < payload {
			return sample{}, fmt.Errorf("log %s too small: %v (%v), payload %d", logPath, fi, err, payload)
		}
	}
	gib := float64(payload) / (1 << 30)
	return sample{mibps: float64(payload) / (1 << 20) / elapsed.Seconds(), cpuGiB: cpu.Seconds() / gib}, nil
}

// waitCPU waits for pid (our child, as subreaper) to exit, reads its own
// utime+stime from the zombie's /proc/PID/stat, then reaps it.
func waitCPU(pid int) (time.Duration, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("waitid %d: %w (is it our child? this process must be its subreaper)", pid, err)
		}
		break
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	var ws unix.WaitStatus
	for {
		if _, werr := unix.Wait4(pid, &ws, 0, nil); werr != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(string(raw[i+2:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat fields %q %q", f[11], f[12])
	}
	if ws.ExitStatus() != 0 {
		return 0, fmt.Errorf("monitor exited with %v", ws)
	}
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

func seqpacket() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs"), nil
}

func readInt(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(raw)))
}
