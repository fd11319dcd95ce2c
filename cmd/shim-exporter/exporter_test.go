package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/metrics"
)

// fakeMonitor serves a monitor's metrics from dir (created if needed), with
// a k8s-file and an attach socket's worth of samples.
func fakeMonitor(tb testing.TB, dir, id string) *metrics.Container {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	file := metrics.LogCounts{Bytes: [2]uint64{1000, 0}, Lines: [2]uint64{10, 0}}
	c := metrics.New(metrics.Labels{ContainerID: id, Name: "name-" + id}, metrics.Sources{
		File:   func() metrics.LogCounts { return file },
		Attach: func() metrics.AttachCounts { return metrics.AttachCounts{Accepted: 1} },
	})
	if err := c.Listen(dir); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// bundle is podman's bundle of container id under a storage root.
func bundle(root, id string) string {
	return filepath.Join(root, "overlay-containers", id, "userdata")
}

// cid makes a 64-character container id, as the engines' are.
func cid(i int) string { return fmt.Sprintf("%064d", i) }

// ids returns the container_id values of family name.
func ids(fams []*dto.MetricFamily, name string) []string {
	var out []string
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "container_id" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// bindSocket binds a unix stream socket at dir/metrics.sock and returns it.
func bindSocket(t *testing.T, dir string) int {
	t.Helper()
	os.MkdirAll(dir, 0o700)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + metrics.SocketName}); err != nil {
		t.Fatal(err)
	}
	return fd
}

// deadSocket leaves a socket file nobody listens on, as a crashed monitor does.
func deadSocket(t *testing.T, dir string) { unix.Close(bindSocket(t, dir)) }

// hangingSocket listens at dir/metrics.sock and never accepts: connecting
// works (the backlog), reading waits forever.
func hangingSocket(t *testing.T, dir string) {
	t.Helper()
	fd := bindSocket(t, dir)
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
}

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	plain := t.TempDir()
	fakeMonitor(t, bundle(root, cid(1)), cid(1))
	fakeMonitor(t, filepath.Join(bundle(root, cid(1)), "execsession"), cid(1)) // podman exec
	fakeMonitor(t, bundle(root, cid(2)), cid(2))
	fakeMonitor(t, filepath.Join(plain, "b3"), "3")
	// Not sockets, or too deep: ignored.
	os.MkdirAll(bundle(root, cid(4)), 0o700)
	os.WriteFile(filepath.Join(bundle(root, cid(4)), metrics.SocketName), nil, 0o600)
	fakeMonitor(t, filepath.Join(root, "overlay", "layer", "diff", "x"), "deep")
	// The same bundle reachable twice (CRI-O's socket-dir symlinks).
	links := t.TempDir()
	os.Symlink(filepath.Join(plain, "b3"), filepath.Join(links, "b3"))

	got := discover([]string{root, plain, links, filepath.Join(root, "missing")})
	want := []string{
		filepath.Join(bundle(root, cid(1)), metrics.SocketName),
		filepath.Join(bundle(root, cid(2)), metrics.SocketName),
		filepath.Join(bundle(root, cid(1)), "execsession", metrics.SocketName),
		filepath.Join(plain, "b3", metrics.SocketName),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("discover:\n got %q\nwant %q", got, want)
	}
}

// TestGatherDropsGoneMonitors: the union covers every live monitor; one
// that exits (socket removed), a crashed one (socket left, nobody
// listening) and a hung one (never answers) are left out, only the hung
// one counting as an error, and the gather still finishes.
func TestGatherDropsGoneMonitors(t *testing.T) {
	root := t.TempDir()
	var mons []*metrics.Container
	for i := range 3 {
		mons = append(mons, fakeMonitor(t, bundle(root, cid(i)), cid(i)))
	}
	reg := prometheus.NewRegistry()
	g := newMonitors([]string{root}, 300*time.Millisecond, 4, reg)
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(fams, "shim_log_bytes_total"); len(got) != 6 { // 3 monitors x 2 streams
		t.Fatalf("log bytes samples for %q, want 2 for each of 3 monitors", got)
	}
	if got := ids(fams, "shim_monitor_goroutines"); !slices.Equal(got, []string{cid(0), cid(1), cid(2)}) {
		t.Fatalf("monitors %q", got)
	}

	mons[1].Close()
	deadSocket(t, bundle(root, cid(7)))
	hangingSocket(t, bundle(root, cid(8)))
	fams, err = g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(fams, "shim_monitor_goroutines"); !slices.Equal(got, []string{cid(0), cid(2)}) {
		t.Fatalf("after one exit: monitors %q", got)
	}
	own, _ := reg.Gather()
	text := familiesText(t, own)
	for _, want := range []string{
		`shim_exporter_monitors{outcome="scraped"} 2`,
		`shim_exporter_monitors{outcome="gone"} 1`,
		`shim_exporter_monitors{outcome="failed"} 1`,
		`shim_exporter_scrape_errors_total{reason="timeout"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
}

func familiesText(t *testing.T, fams []*dto.MetricFamily) string {
	t.Helper()
	var b bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestHTTP: the endpoint serves the monitors' union and the exporter's own
// metrics in a text that Prometheus' parser accepts.
func TestHTTP(t *testing.T) {
	root := t.TempDir()
	for i := range 2 {
		fakeMonitor(t, bundle(root, cid(i)), cid(i))
	}
	srv := httptest.NewServer(handler([]string{root}, 2*time.Second, 4))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exporter output does not parse: %v\n%s", err, body)
	}
	var fams []*dto.MetricFamily
	for _, f := range parsed {
		fams = append(fams, f)
	}
	if got := ids(fams, "shim_attach_clients_total"); !slices.Equal(got, []string{cid(0), cid(1)}) {
		t.Fatalf("monitors in the output: %q", got)
	}
	for _, name := range []string{"shim_exporter_monitors", "go_goroutines", "process_resident_memory_bytes"} {
		if parsed[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// BenchmarkGather100 scrapes 100 monitors (each a real metrics socket with
// a typical exposition) per iteration.
func BenchmarkGather100(b *testing.B) {
	root := b.TempDir()
	for i := range 100 {
		fakeMonitor(b, bundle(root, cid(i)), cid(i))
	}
	g := newMonitors([]string{root}, 10*time.Second, 16, nil)
	for b.Loop() {
		fams, err := g.Gather()
		if err != nil {
			b.Fatal(err)
		}
		if n := len(ids(fams, "shim_monitor_goroutines")); n != 100 {
			b.Fatalf("%d monitors scraped, want 100", n)
		}
	}
}
