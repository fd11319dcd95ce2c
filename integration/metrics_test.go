package integration

// Per-container metrics (SHIM_METRICS=1): the counters match what the
// container wrote, nothing exists when off, the exporter serves the union
// of the running monitors, and clients of the metrics socket cannot hold up
// the log path.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

// logBytes sums the content bytes of a k8s-file's entries per stream.
func logBytes(t *testing.T, path string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range parseLog(t, path) {
		n[e.Stream] += len(e.Content)
	}
	return n
}

// TestMetricsPodmanCounts: through podman with SHIM_METRICS=1 in
// containers.conf, the monitor's counters equal what the container wrote:
// bytes and lines per stream, the one partial line, and what the log file
// holds.
func TestMetricsPodmanCounts(t *testing.T) {
	pod := setupMetricsPodman(t)
	name, id, bundle := runMetricsCtr(t, pod, "sh", "-c",
		// One write per line and less than a read's worth (8 KiB) in all,
		// so that no read ends mid-line: the only partial entry is "tail".
		`i=1; while [ $i -le 1000 ]; do echo line$i; i=$((i+1)); done; seq 1 7 >&2; printf tail; echo ready >&2; exec sleep 1000`)
	testutil.Eventually(t, 30*time.Second, name+" to print ready on stderr", func() bool {
		return strings.Contains(pod.pm(t, "logs", name).Stderr, "ready")
	})

	var out bytes.Buffer
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&out, "line%d\n", i)
	}
	wantOut := out.Len() + len("tail")
	wantErr := len("1\n2\n3\n4\n5\n6\n7\n") + len("ready\n")
	k8s := func(stream string) []string { return []string{"driver", "k8s-file", "stream", stream} }
	var fams = scrapeMonitor(t, bundle)
	// The log file is written before the counters are added: wait for them.
	testutil.Eventually(t, 30*time.Second, "the stderr line count to reach 8", func() bool {
		fams = scrapeMonitor(t, bundle)
		n, _ := sample(fams, "shim_log_lines_total", k8s("stderr")...)
		return n == 8
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"shim_log_bytes_total", k8s("stdout"), float64(wantOut)},
		{"shim_log_lines_total", k8s("stdout"), 1000},
		{"shim_log_partial_lines_total", k8s("stdout"), 1},
		{"shim_log_bytes_total", k8s("stderr"), float64(wantErr)},
		{"shim_log_lines_total", k8s("stderr"), 8},
		{"shim_log_partial_lines_total", k8s("stderr"), 0},
		{"shim_dropped_bytes_total", []string{"reason", "global_size_limit"}, 0},
		{"shim_attach_clients", nil, 0},
	} {
		labels := append([]string{"container_id", id, "container_name", name}, c.labels...)
		if got, ok := sample(fams, c.name, labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, labels, got, ok, c.want)
		}
	}
	inFile := logBytes(t, filepath.Join(bundle, "ctr.log"))
	if inFile["stdout"] != wantOut || inFile["stderr"] != wantErr {
		t.Errorf("log file holds %v bytes, want stdout %d, stderr %d", inFile, wantOut, wantErr)
	}
	if v, ok := sample(fams, "shim_time_to_pid_seconds"); !ok || v <= 0 {
		t.Errorf("shim_time_to_pid_seconds = %v (found %v)", v, ok)
	}
	if v, ok := sample(fams, "shim_monitor_resident_memory_bytes"); !ok || v < 1<<20 {
		t.Errorf("shim_monitor_resident_memory_bytes = %v (found %v)", v, ok)
	}
	if _, ok := sample(fams, "shim_container_exit_code"); ok {
		t.Error("an exit code while the container runs")
	}
	fi, err := os.Lstat(filepath.Join(bundle, metricsSocket))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		t.Errorf("metrics socket %v uid %d, want a socket, 0600, ours", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
}

// TestMetricsPodmanDisabled: without the variable no metrics socket exists
// beside the attach socket.
func TestMetricsPodmanDisabled(t *testing.T) {
	if isRef {
		t.Skip("metrics are shim's own: conmon has none")
	}
	pod := setupPodman(t)
	name := pod.runD(t, nil, "sh", "-c", "echo ready; exec sleep 1000")
	pod.waitRunning(t, name, "ready")
	bundle := strings.TrimSpace(pod.pmOK(t, "inspect", "--format", "{{.StaticDir}}", name))
	if _, err := os.Lstat(filepath.Join(bundle, "attach")); err != nil {
		t.Fatalf("no attach socket in the bundle: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(bundle, metricsSocket)); !os.IsNotExist(err) {
		t.Fatalf("metrics socket present with metrics off (%v)", err)
	}
}

// exporterScrape fetches and parses the exporter's /metrics.
func exporterScrape(t *testing.T, url string) map[string][]string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exporter: %s\n%s", resp.Status, body)
	}
	fams, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("exporter output does not parse with expfmt: %v\n%s", err, body)
	}
	if fams["shim_exporter_monitors"] == nil || fams["go_goroutines"] == nil {
		t.Fatalf("exporter's own metrics missing:\n%s", body)
	}
	return map[string][]string{
		"bytes":      containerIDs(fams, "shim_log_bytes_total"),
		"goroutines": containerIDs(fams, "shim_monitor_goroutines"),
	}
}

// TestMetricsExporter: the exporter finds the three running monitors in the
// store, serves their union in a text Prometheus' parser accepts, and drops
// the one whose container exited.
func TestMetricsExporter(t *testing.T) {
	pod := setupMetricsPodman(t)
	var names, ids []string
	for range 3 {
		name, id, _ := runMetricsCtr(t, pod, "sh", "-c", "echo ready; exec sleep 1000")
		names, ids = append(names, name), append(ids, id)
	}
	for _, n := range names {
		pod.waitRunning(t, n, "ready")
	}
	url := startExporter(t, pod.opts[1]) // the store's --root
	ours := func(got []string) []string {
		var out []string
		for _, id := range got {
			if slices.Contains(ids, id) {
				out = append(out, id)
			}
		}
		return out
	}
	want := slices.Sorted(slices.Values(ids))
	got := exporterScrape(t, url)
	if g := ours(got["goroutines"]); !slices.Equal(g, want) {
		t.Fatalf("exporter shows monitors %q, want %q", g, want)
	}
	if g := ours(got["bytes"]); len(g) != 6 { // stdout and stderr of each
		t.Fatalf("log byte samples for %q, want two per container", g)
	}

	pod.pmOK(t, "kill", names[1])
	pod.waitExitCode(t, names[1])
	want = slices.DeleteFunc(want, func(id string) bool { return id == ids[1] })
	testutil.Eventually(t, 30*time.Second, "the exited container to leave the exporter's output", func() bool {
		return slices.Equal(ours(exporterScrape(t, url)["goroutines"]), want)
	})
}

// TestMetricsHostileClients: while clients hold the metrics socket's slots
// without reading, flood it with connections and push data at it, the
// container's 200,000 lines still reach the log, and afterwards the counts
// are exact and the socket answers.
func TestMetricsHostileClients(t *testing.T) {
	pod := setupMetricsPodman(t)
	name, id, bundle := runMetricsCtr(t, pod, "sh", "-c",
		"echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; seq 1 200000; echo done; exec sleep 1000")
	pod.waitRunning(t, name, "ready")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	dial := func() net.Conn {
		c, err := dialMetrics(bundle)
		if err != nil {
			return nil // a full backlog refuses: part of the flood
		}
		return c
	}
	for range 20 { // connect, never read, stay
		if c := dial(); c != nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	for range 2 {
		wg.Add(2)
		go func() { // connect and close as fast as possible
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c := dial(); c != nil {
					c.Close()
				}
			}
		}()
		go func() { // push data the monitor never reads
			defer wg.Done()
			c := dial()
			if c == nil {
				return
			}
			defer c.Close()
			junk := bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := c.Write(junk); err != nil && !os.IsTimeout(err) {
					return
				}
			}
		}()
	}
	pod.pmOK(t, "exec", name, "touch", "/tmp/go")
	logPath := filepath.Join(bundle, "ctr.log")
	testutil.Eventually(t, 60*time.Second, "all output to reach the log while the socket is under attack", func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte(" stdout F done\n"))
	})
	close(stop)
	wg.Wait()

	lines := 0
	for _, e := range parseLog(t, logPath) {
		if e.Stream == "stdout" && e.Tag == "F" {
			lines++
		}
	}
	if lines != 200002 {
		t.Fatalf("log has %d stdout lines, want 200002", lines)
	}
	var got float64
	testutil.Eventually(t, 30*time.Second, "the line count to settle", func() bool {
		got, _ = sample(scrapeMonitor(t, bundle), "shim_log_lines_total",
			"container_id", id, "driver", "k8s-file", "stream", "stdout")
		return got == 200002
	})
}

// dialMetrics connects to <dir>/metrics.sock without reading.
func dialMetrics(dir string) (net.Conn, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	return net.Dial("unix", fmt.Sprintf("/proc/self/fd/%d/%s", dfd, metricsSocket))
}

// TestMetricsDirectExitAndAttach drives the monitor without podman: an
// attach client's input and the container's exit code show up, the latter
// while the exit command runs, and the socket goes when the monitor does.
func TestMetricsDirectExitAndAttach(t *testing.T) {
	if isRef {
		t.Skip("metrics are shim's own: conmon has none")
	}
	t.Setenv("SHIM_METRICS", "1")
	flag := filepath.Join(t.TempDir(), "exit-command-may-end")
	r := startMon(t, monOpts{Args: []string{"sh", "-c", "cat; exit 3"}, Extra: []string{"-i",
		"--exit-command", "/bin/sh", "--exit-command-arg", "-c",
		"--exit-command-arg", "while [ ! -e " + flag + " ]; do sleep 0.05; done"}}).run()

	dfd, err := unix.Open(r.Bundle, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/attach", dfd), Net: "unixpacket"})
	unix.Close(dfd)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	r.waitLog("stdout F hello\n", 30*time.Second)
	fams := scrapeMonitor(t, r.Bundle)
	for name, want := range map[string]float64{"shim_attach_clients": 1, "shim_attach_clients_total": 1, "shim_stdin_bytes_total": 6} {
		if got, ok := sample(fams, name, "container_id", r.ID); !ok || got != want {
			t.Errorf("%s = %v (found %v), want %v", name, got, ok, want)
		}
	}

	c.CloseWrite() // stdin EOF: cat ends, the container exits 3
	if got := r.waitExit(30 * time.Second); got != "3" {
		t.Fatalf("exit file %q, want 3", got)
	}
	fams = scrapeMonitor(t, r.Bundle) // the exit command holds the monitor
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"shim_container_exit_code", nil, 3},
		{"shim_log_bytes_total", []string{"stream", "stdout"}, 6},
		{"shim_log_lines_total", []string{"stream", "stdout"}, 1},
		{"shim_stdin_bytes_total", nil, 6},
	} {
		if got, ok := sample(fams, s.name, s.labels...); !ok || got != s.want {
			t.Errorf("after exit: %s%v = %v (found %v), want %v", s.name, s.labels, got, ok, s.want)
		}
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitGone(t, r.Daemon, 30*time.Second, "monitor")
	if _, err := os.Lstat(filepath.Join(r.Bundle, metricsSocket)); !os.IsNotExist(err) {
		t.Fatalf("metrics socket left after the monitor exited (%v)", err)
	}
}
