package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio"
	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/cli"
	"github.com/shim-project/shim/internal/diag"
	"github.com/shim-project/shim/internal/testutil"
	"github.com/shim-project/shim/logs"
	"github.com/shim-project/shim/metrics"
)

// metricsMon is a monitor with a k8s-file log in a fresh bundle.
func metricsMon(t *testing.T) *daemon {
	t.Helper()
	bundle := t.TempDir()
	w, err := logs.New(logs.Options{Specs: []logs.Spec{{Kind: logs.K8sFile, Path: filepath.Join(bundle, "ctr.log")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(false) })
	cfg := &cli.Config{Bundle: bundle, Cid: "abc", Name: "web"}
	lg := diag.New(diag.Options{})
	return &daemon{cfg: cfg, lg: lg, setup: &setup{logs: w}, io: cio.New(cio.Options{Logs: w, Log: lg})}
}

// TestMetricsOffOpensAndAllocatesNothing: without SHIM_METRICS=1 the
// monitor's metrics calls, from setup to exit, open no file, create no
// socket and allocate nothing.
func TestMetricsOffOpensAndAllocatesNothing(t *testing.T) {
	for _, v := range []string{"", "0", "false"} {
		t.Setenv(metrics.EnvVar, v)
		m := metricsMon(t)
		resize := func(rows, cols uint16) error { return nil }
		before := testutil.OpenFds(t)
		allocs := testing.AllocsPerRun(100, func() {
			m.startMetrics()
			m.stats.Started(nil)
			_ = m.stats.CountResizes(resize)
			m.stats.Exited(0)
			m.stats.Close()
		})
		if allocs != 0 {
			t.Errorf("SHIM_METRICS=%q: %v allocations", v, allocs)
		}
		if m.stats != nil {
			t.Fatalf("SHIM_METRICS=%q: metrics on", v)
		}
		if after := testutil.OpenFds(t); after != before {
			t.Errorf("SHIM_METRICS=%q: %d fds open, %d before", v, after, before)
		}
		if _, err := os.Lstat(filepath.Join(m.cfg.Bundle, metrics.SocketName)); !os.IsNotExist(err) {
			t.Errorf("SHIM_METRICS=%q: metrics socket exists (%v)", v, err)
		}
	}
}

// TestMetricsOn: SHIM_METRICS=1 serves the container's metrics, with the log
// driver's totals, on <bundle>/metrics.sock until Close.
func TestMetricsOn(t *testing.T) {
	t.Setenv(metrics.EnvVar, "1")
	m := metricsMon(t)
	m.startMetrics()
	if m.stats == nil {
		t.Fatal("metrics off with SHIM_METRICS=1")
	}
	if err := m.setup.logs.Write(stream.Stdout, []byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(m.cfg.Bundle, metrics.SocketName)
	body := scrapeSocket(t, path)
	for _, want := range []string{
		`shim_log_bytes_total{container_id="abc",container_name="web",driver="k8s-file",stream="stdout"} 8`,
		`shim_log_lines_total{container_id="abc",container_name="web",driver="k8s-file",stream="stdout"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
	m.stats.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

func scrapeSocket(t *testing.T, path string) string {
	t.Helper()
	dfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	c, err := net.Dial("unix", "/proc/self/fd/"+strconv.Itoa(dfd)+"/"+filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
