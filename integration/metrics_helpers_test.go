package integration

// Helpers for the metrics tests: podman whose monitors get SHIM_METRICS=1
// through containers.conf (as an operator would set it), a client for
// <bundle>/metrics.sock, and the exporter binary.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

const metricsSocket = "metrics.sock"

var (
	metricsOnce   sync.Once
	metricsPodman *podman // root's, with monitors started with SHIM_METRICS=1
	metricsErr    error
)

// setupMetricsPodman is setupPodman plus a containers.conf that is
// hack/containers.conf with `conmon_env_vars = ["SHIM_METRICS=1"]`.
func setupMetricsPodman(t *testing.T) *podman {
	t.Helper()
	if isRef {
		t.Skip("metrics are shim's own: conmon has none")
	}
	pod := setupPodman(t)
	metricsOnce.Do(func() {
		base, err := os.ReadFile(filepath.Join(repoRoot, "hack", "containers.conf"))
		if err != nil {
			metricsErr = err
			return
		}
		if !bytes.Contains(base, []byte("\n[engine]")) {
			metricsErr = fmt.Errorf("hack/containers.conf has no [engine] table to extend")
			return
		}
		// [engine] is the file's last table, so a line at the end belongs to it.
		conf := append(bytes.TrimRight(base, "\n"), "\nconmon_env_vars = [\"SHIM_METRICS=1\"]\n"...)
		path := filepath.Join(workDir, "containers-metrics.conf")
		if metricsErr = os.WriteFile(path, conf, 0o644); metricsErr != nil {
			return
		}
		mp := *pod
		mp.env = append(slices.Clone(pod.env), "CONTAINERS_CONF="+path) // the last one wins
		metricsPodman = &mp
	})
	if metricsErr != nil {
		t.Fatal(metricsErr)
	}
	return metricsPodman
}

// runMetricsCtr starts a detached container whose monitor serves metrics
// and returns its name, id and bundle (podman's StaticDir).
func runMetricsCtr(t *testing.T, pod *podman, args ...string) (name, id, bundle string) {
	t.Helper()
	name = pod.ctrName(t)
	out := pod.pmOK(t, append([]string{"run", "-d", "--name", name, testImage}, args...)...)
	id = strings.TrimSpace(out)
	bundle = strings.TrimSpace(pod.pmOK(t, "inspect", "--format", "{{.StaticDir}}", name))
	return name, id, bundle
}

// readMetrics reads a monitor's exposition from <dir>/metrics.sock,
// connecting through /proc/self/fd/N/ as bundle paths are long.
func readMetrics(dir string) ([]byte, error) {
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	c, err := net.Dial("unix", "/proc/self/fd/"+strconv.Itoa(dfd)+"/"+metricsSocket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return io.ReadAll(c)
}

func parseMetrics(b []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

// scrapeMonitor reads and parses a monitor's metrics, failing the test if
// they cannot be read or do not parse.
func scrapeMonitor(t *testing.T, dir string) map[string]*dto.MetricFamily {
	t.Helper()
	b, err := readMetrics(dir)
	if err != nil {
		t.Fatalf("read metrics from %s: %v", dir, err)
	}
	fams, err := parseMetrics(b)
	if err != nil {
		t.Fatalf("metrics from %s do not parse: %v\n%s", dir, err, b)
	}
	return fams
}

// sample returns the value of the one sample of family name whose labels
// include want.
func sample(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && labels[want[i]] == want[i+1]
		}
		if !ok {
			continue
		}
		if m.Counter != nil {
			return m.Counter.GetValue(), true
		}
		return m.Gauge.GetValue(), true
	}
	return 0, false
}

// containerIDs lists the container_id labels of family name.
func containerIDs(fams map[string]*dto.MetricFamily, name string) []string {
	var ids []string
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "container_id" {
					ids = append(ids, l.GetValue())
				}
			}
		}
	}
	slices.Sort(ids)
	return ids
}

var (
	exporterOnce sync.Once
	exporterBin  string
	exporterErr  error
)

// startExporter runs cmd/shim-exporter on 127.0.0.1:<free port> over dirs
// and returns its base URL. $SHIM_EXPORTER selects a built binary;
// otherwise it is built from this checkout.
func startExporter(t *testing.T, dirs ...string) string {
	t.Helper()
	exporterOnce.Do(func() {
		if exporterBin = os.Getenv("SHIM_EXPORTER"); exporterBin != "" {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		exporterBin = filepath.Join(workDir, "shim-exporter")
		out, err := exec.Command(goBin, "build", "-o", exporterBin, "../cmd/shim-exporter").CombinedOutput()
		if err != nil {
			exporterErr = fmt.Errorf("go build ./cmd/shim-exporter: %v\n%s", err, out)
		}
	})
	if exporterErr != nil {
		t.Fatal(exporterErr)
	}
	cmd := exec.Command(exporterBin, append([]string{"-listen", "127.0.0.1:0"}, dirs...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- strings.TrimSuffix(strings.Fields(rest)[0], ",")
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("shim-exporter did not say where it listens")
		return ""
	}
}
