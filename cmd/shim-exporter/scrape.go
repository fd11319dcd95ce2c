package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"
)

// maxBody bounds one monitor's reply; a monitor's exposition is a few KiB.
const maxBody = 1 << 20

var (
	// errGone: the socket is stale or was removed meanwhile; the monitor
	// has exited and is dropped without counting an error.
	errGone = errors.New("monitor gone")
	// errBusy: the monitor closed without a reply, which it does while it
	// serves its maximum of scrapes at once.
	errBusy = errors.New("monitor busy: empty reply")
)

// monitors is a prometheus.Gatherer over every monitor socket found under
// dirs: each Gather finds the sockets afresh and scrapes them in parallel,
// so monitors that have gone away simply stop appearing.
type monitors struct {
	dirs     []string
	timeout  time.Duration // for one whole Gather
	parallel int

	found    *prometheus.GaugeVec   // monitors by outcome of the last gather
	errs     *prometheus.CounterVec // failed scrapes by reason
	duration prometheus.Gauge
}

func newMonitors(dirs []string, timeout time.Duration, parallel int, reg prometheus.Registerer) *monitors {
	m := &monitors{
		dirs: dirs, timeout: timeout, parallel: max(parallel, 1),
		found: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shim_exporter_monitors",
			Help: "Monitor sockets found in the last gather, by outcome (scraped, gone, failed).",
		}, []string{"outcome"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shim_exporter_scrape_errors_total",
			Help: "Monitor scrapes that failed, by reason (timeout, busy, parse, conflict, other).",
		}, []string{"reason"}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shim_exporter_gather_duration_seconds",
			Help: "Time the last gather took: discovery and every monitor's scrape.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.found, m.errs, m.duration)
	}
	return m
}

// Gather implements prometheus.Gatherer. Failed monitors are counted and
// left out; they never fail the whole gather.
func (m *monitors) Gather() ([]*dto.MetricFamily, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	paths := discover(m.dirs)
	results := make([]map[string]*dto.MetricFamily, len(paths))
	errs := make([]error, len(paths))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(m.parallel, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i], errs[i] = scrape(ctx, paths[i])
			}
		}()
	}
	for i := range paths {
		work <- i
	}
	close(work)
	wg.Wait()

	var merged merger
	outcomes := map[string]float64{"scraped": 0, "gone": 0, "failed": 0}
	for i, fams := range results {
		switch err := errs[i]; {
		case errors.Is(err, errGone):
			outcomes["gone"]++
		case err != nil:
			outcomes["failed"]++
			m.errs.WithLabelValues(reason(err)).Inc()
		default:
			outcomes["scraped"]++
			if merged.add(fams) {
				m.errs.WithLabelValues("conflict").Inc()
			}
		}
	}
	for k, v := range outcomes {
		m.found.WithLabelValues(k).Set(v)
	}
	m.duration.Set(time.Since(start).Seconds())
	return merged.out, nil
}

func reason(err error) string {
	var perr expfmt.ParseError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, errBusy):
		return "busy"
	case errors.As(err, &perr), errors.Is(err, errTooBig):
		return "parse"
	}
	return "other"
}

var errTooBig = fmt.Errorf("reply larger than %d bytes", maxBody)

// scrape reads one monitor's exposition and parses it.
func scrape(ctx context.Context, path string) (map[string]*dto.MetricFamily, error) {
	body, err := fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse metrics from %s: %w", path, err)
	}
	return fams, nil
}

// fetch connects through /proc/self/fd/<dirfd>/metrics.sock, since bundle
// paths are often longer than a socket address may be.
func fetch(ctx context.Context, path string) ([]byte, error) {
	dfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Dir(path), goneIf(err))
	}
	defer unix.Close(dfd)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", "/proc/self/fd/"+strconv.Itoa(dfd)+"/"+filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, goneIf(err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	body, err := io.ReadAll(io.LimitReader(conn, maxBody+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	case len(body) > maxBody:
		return nil, fmt.Errorf("read %s: %w", path, errTooBig)
	case len(body) == 0:
		return nil, fmt.Errorf("read %s: %w", path, errBusy)
	}
	return body, nil
}

// goneIf maps "nothing there" and "nobody listening" to errGone.
func goneIf(err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%w: %w", errGone, err)
	}
	return err
}

// merger unions metric families by name.
type merger struct {
	byName map[string]*dto.MetricFamily
	out    []*dto.MetricFamily
}

// add merges one monitor's families and reports whether any had to be
// skipped because another monitor gave the same name another type.
func (g *merger) add(fams map[string]*dto.MetricFamily) (conflict bool) {
	if g.byName == nil {
		g.byName = map[string]*dto.MetricFamily{}
	}
	for name, f := range fams {
		have, ok := g.byName[name]
		if !ok {
			g.byName[name] = f
			g.out = append(g.out, f)
			continue
		}
		if have.GetType() != f.GetType() {
			conflict = true
			continue
		}
		have.Metric = append(have.Metric, f.Metric...)
	}
	return conflict
}
