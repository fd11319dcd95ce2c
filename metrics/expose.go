package metrics

import (
	"runtime"
	"strconv"
	"time"
)

// ContentType is what the exposition below is, for an HTTP server that
// forwards it as is.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// family is one metric's name, TYPE and HELP.
type family struct{ name, typ, help string }

var (
	famLogBytes = family{"shim_log_bytes_total", "counter",
		"Container output bytes written to a log driver, newlines included."}
	famLogLines = family{"shim_log_lines_total", "counter",
		"Complete (newline-terminated) lines written to a log driver."}
	famLogPartial = family{"shim_log_partial_lines_total", "counter",
		"Partial entries written to a log driver: k8s-file P entries, journald CONTAINER_PARTIAL_MESSAGE entries."}
	famLogErrors = family{"shim_log_write_errors_total", "counter",
		"Failed log writes: write(2) on the k8s-file, sends to journald."}
	famDropped = family{"shim_dropped_bytes_total", "counter",
		"Output bytes lost, by reason: global_size_limit (--log-global-size-max reached), disk_full (ENOSPC/EDQUOT on the k8s-file, formatted bytes), write_error (other k8s-file write errors, formatted bytes), journald_error (entries journald did not take), slow_attach_client (output an attach client missed when dropped for lagging), rate_limit (output kept from the logs by the log rate limit; attach clients still got it)."}
	famLimitLines = family{"shim_log_rate_limited_lines_total", "counter",
		"Lines kept from the logs by the log rate limit (their bytes are in shim_dropped_bytes_total{reason=\"rate_limit\"})."}
	famLimitMarkers = family{"shim_log_rate_limit_markers_total", "counter",
		"Marker entries logged by the log rate limit, one per drop episode and second."}
	famRotations = family{"shim_log_rotations_total", "counter",
		"New k8s-files started because --log-size-max was reached."}
	famReopens = family{"shim_log_reopens_total", "counter",
		"New k8s-files started on request (ctl message 2, log rotation by the engine)."}
	famClients = family{"shim_attach_clients", "gauge",
		"Attach clients connected now."}
	famClientsTotal = family{"shim_attach_clients_total", "counter",
		"Attach clients accepted."}
	famSlowClients = family{"shim_attach_slow_disconnects_total", "counter",
		"Attach clients disconnected for falling too far behind the output."}
	famStdin = family{"shim_stdin_bytes_total", "counter",
		"Bytes from attach clients written to the container's stdin."}
	famResizes = family{"shim_tty_resizes_total", "counter",
		"Terminal resizes applied."}
	famOOM = family{"shim_container_oom_kills_total", "counter",
		"OOM kills in the container's memory cgroup."}
	famExit = family{"shim_container_exit_code", "gauge",
		"The container's exit status (128+signal when killed); present once it exited."}
	famToPid = family{"shim_time_to_pid_seconds", "gauge",
		"Seconds from the monitor's setup to the container's pid being known (runtime create)."}
	famRSS = family{"shim_monitor_resident_memory_bytes", "gauge",
		"Resident memory of the monitor process."}
	famGoroutines = family{"shim_monitor_goroutines", "gauge",
		"Goroutines in the monitor process."}
)

var streams = [2]string{"stdout", "stderr"}

// driver is a configured log driver and its totals.
type driver struct {
	name string
	n    *LogCounts
}

// Append renders the metrics in the Prometheus text format (version 0.0.4).
// Only families with at least one sample are written.
func (c *Container) Append(b []byte) []byte {
	if c == nil {
		return b
	}
	e := expo{b: b, labels: c.labels}
	// Each source is read once, so that one scrape's samples of it agree.
	var file, journal *LogCounts
	if c.src.File != nil {
		n := c.src.File()
		file = &n
	}
	if c.src.Journal != nil {
		n := c.src.Journal()
		journal = &n
	}
	var att *AttachCounts
	if c.src.Attach != nil {
		st := c.src.Attach()
		att = &st
	}
	var lim *LimitCounts
	if c.src.Limit != nil {
		n := c.src.Limit()
		lim = &n
	}
	e.logs(file, journal)
	e.dropped(file, journal, att, lim)
	if lim != nil {
		e.head(famLimitLines)
		for i, s := range streams {
			e.value(lim.DroppedLines[i], famLimitLines.name, "stream", s)
		}
		e.single(famLimitMarkers, lim.Markers)
	}
	if file != nil {
		e.single(famRotations, file.Rotations)
		e.single(famReopens, file.Reopens)
	}
	if att != nil {
		e.attach(*att)
	}
	e.single(famResizes, c.resizes.Load())
	if n, ok := c.oomKills(); ok {
		e.single(famOOM, n)
	}
	if c.exited.Load() {
		e.head(famExit)
		e.sample(famExit.name)
		e.b = strconv.AppendInt(e.b, c.exit.Load(), 10)
		e.b = append(e.b, '\n')
	}
	if ns := c.toPid.Load(); ns > 0 {
		e.head(famToPid)
		e.sample(famToPid.name)
		e.b = strconv.AppendFloat(e.b, time.Duration(ns).Seconds(), 'g', -1, 64)
		e.b = append(e.b, '\n')
	}
	if n, ok := residentBytes(); ok {
		e.single(famRSS, n)
	}
	e.single(famGoroutines, uint64(runtime.NumGoroutine()))
	return e.b
}

func (e *expo) logs(file, journal *LogCounts) {
	var drivers []driver
	if file != nil {
		drivers = append(drivers, driver{"k8s-file", file})
	}
	if journal != nil {
		drivers = append(drivers, driver{"journald", journal})
	}
	if len(drivers) == 0 {
		return
	}
	per := func(f family, get func(*LogCounts) *[2]uint64) {
		e.head(f)
		for _, d := range drivers {
			for i, s := range streams {
				e.value(get(d.n)[i], f.name, "driver", d.name, "stream", s)
			}
		}
	}
	per(famLogBytes, func(n *LogCounts) *[2]uint64 { return &n.Bytes })
	per(famLogLines, func(n *LogCounts) *[2]uint64 { return &n.Lines })
	per(famLogPartial, func(n *LogCounts) *[2]uint64 { return &n.Partial })
	e.head(famLogErrors)
	for _, d := range drivers {
		e.value(d.n.Errors, famLogErrors.name, "driver", d.name)
	}
}

// dropped writes the bytes lost, by reason, of the sources there are.
func (e *expo) dropped(file, journal *LogCounts, att *AttachCounts, lim *LimitCounts) {
	if file == nil && journal == nil && att == nil && lim == nil {
		return
	}
	e.head(famDropped)
	reason := func(r string, n uint64) { e.value(n, famDropped.name, "reason", r) }
	if file != nil {
		reason("global_size_limit", file.DroppedLimit)
		reason("disk_full", file.DroppedNoSpace)
		reason("write_error", file.DroppedError)
	}
	if journal != nil {
		reason("journald_error", journal.DroppedNoSpace+journal.DroppedError)
	}
	if att != nil {
		reason("slow_attach_client", att.SlowDroppedBytes)
	}
	if lim != nil {
		reason("rate_limit", lim.DroppedBytes[0]+lim.DroppedBytes[1])
	}
}

func (e *expo) attach(st AttachCounts) {
	e.single(famClients, st.Clients)
	e.single(famClientsTotal, st.Accepted)
	e.single(famSlowClients, st.SlowDisconnects)
	e.single(famStdin, st.InputBytes)
}

// expo appends exposition lines to b.
type expo struct {
	b      []byte
	labels string
}

func (e *expo) head(f family) {
	e.b = append(e.b, "# HELP "...)
	e.b = append(e.b, f.name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, f.help...) // constant text: no '\\' or newline to escape
	e.b = append(e.b, "\n# TYPE "...)
	e.b = append(e.b, f.name...)
	e.b = append(e.b, ' ')
	e.b = append(e.b, f.typ...)
	e.b = append(e.b, '\n')
}

// sample writes `name{<container labels>,k1="v1",...} `, leaving the value
// to the caller; kv are pairs of constant label names and values.
func (e *expo) sample(name string, kv ...string) {
	e.b = append(e.b, name...)
	e.b = append(e.b, '{')
	e.b = append(e.b, e.labels...)
	for i := 0; i+1 < len(kv); i += 2 {
		e.b = append(e.b, ',')
		e.b = appendLabel(e.b, kv[i], kv[i+1])
	}
	e.b = append(e.b, "} "...)
}

func (e *expo) value(n uint64, name string, kv ...string) {
	e.sample(name, kv...)
	e.b = strconv.AppendUint(e.b, n, 10)
	e.b = append(e.b, '\n')
}

// single writes a family with one sample carrying only the container labels.
func (e *expo) single(f family, n uint64) {
	e.head(f)
	e.value(n, f.name)
}

// appendLabel appends name="value" with the text format's escapes.
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	for i := 0; i < len(value); i++ {
		switch ch := value[i]; ch {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}
