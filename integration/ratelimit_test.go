package integration

// The log rate limit (docs/interface.md §16.5) through the binary: a
// container that writes numbered lines as fast as it can, under 1 MiB/s.

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	rateKey   = "shim-project.github.io/log-rate"
	burstKey  = "shim-project.github.io/log-burst"
	policyKey = "shim-project.github.io/log-rate-policy"
	limitRate = 1 << 20
	limitBurs = 256 << 10
)

// markerRe reads a k8s-file marker entry's totals.
var markerRe = regexp.MustCompile(`^\[shim\] log rate limit (\d+) B/s \(burst (\d+) B\): dropped (\d+) bytes, (\d+) lines \(stdout (\d+) bytes, (\d+) lines; stderr (\d+) bytes, (\d+) lines\)\n$`)

// joinedLog reads the k8s-file as a reader does: P entries join the next
// entries of their stream up to the F one. It returns each stream's
// complete lines in order, and what is left unfinished at the end.
func joinedLog(t *testing.T, path string) (lines, tail map[string][]string) {
	t.Helper()
	lines, tail = map[string][]string{}, map[string][]string{}
	open := map[string]string{}
	for _, e := range parseLog(t, path) {
		open[e.Stream] += e.Content
		if e.Tag == "F" {
			lines[e.Stream] = append(lines[e.Stream], open[e.Stream])
			open[e.Stream] = ""
		}
	}
	for st, rest := range open {
		tail[st] = []string{rest}
	}
	return lines, tail
}

// numberedLines splits text into its complete lines for checkNumbered,
// and returns the unfinished rest: timeout kills seq in the middle of a
// stdio buffer, so the last line may be cut.
func numberedLines(text string) ([]string, string) {
	i := strings.LastIndexByte(text, '\n')
	return strings.Split(text[:i], "\n"), text[i+1:]
}

// limitedRun runs `timeout SECS seq 1 …` in a bundle with the given policy,
// an attach client reading everything.
func limitedRun(t *testing.T, policy string, secs int) (*monRun, *attachClient, exitRecord) {
	r := startMon(t, monOpts{
		Args:        []string{"sh", "-c", fmt.Sprintf("timeout %d seq 1 999999999; echo done >&2", secs)},
		Annotations: map[string]string{rateKey: "1Mi", burstKey: "256Ki", policyKey: policy},
	})
	r.created()
	c := dialAttach(t, r.Bundle+"/attach")
	r.startCtr()
	r.finish("0")
	c.waitEOF()
	return r, c, readExitRecord(t, r.Bundle)
}

func TestRateLimitDrop(t *testing.T) {
	extension(t)
	r, c, rec := limitedRun(t, "drop", 10)
	out := rec.Logs["stdout"]
	// The attach client got every byte the container wrote, in order.
	attLines, attTail := numberedLines(c.stream(2))
	written := checkNumbered(t, "attach stdout", attLines)
	total := uint64(len(c.stream(2)))
	if out.LoggedBytes+out.DroppedBytes != total {
		t.Errorf("logged %d + dropped %d != %d bytes written", out.LoggedBytes, out.DroppedBytes, total)
	}
	if out.DroppedBytes == 0 {
		t.Fatalf("nothing dropped of %d bytes in 10 s at 1 MiB/s", total)
	}
	// The log: whole lines, in order, never more than the budget.
	started, _ := time.Parse(time.RFC3339Nano, *rec.StartedAt)
	finished, _ := time.Parse(time.RFC3339Nano, rec.FinishedAt)
	budget := uint64(finished.Sub(started).Seconds()*limitRate) + limitBurs
	if out.LoggedBytes > budget {
		t.Errorf("logged %d bytes in %v, over the budget of %d", out.LoggedBytes, finished.Sub(started), budget)
	}
	var logged, last, markers int
	var mBytes, mLines uint64
	lines, tail := joinedLog(t, r.LogPath)
	if tl := strings.Join(tail["stdout"], ""); tl != "" && tl != attTail {
		t.Errorf("the log ends in %q, the output in %q", tl, attTail)
	} else {
		logged += len(tl)
	}
	// A marker goes to stderr while stdout is in the middle of a line.
	marker := func(line string) bool {
		m := markerRe.FindStringSubmatch(line)
		if m == nil {
			return false
		}
		markers++
		b, _ := strconv.ParseUint(m[3], 10, 64)
		l, _ := strconv.ParseUint(m[4], 10, 64)
		mBytes, mLines = mBytes+b, mLines+l
		if m[1] != strconv.Itoa(limitRate) || m[2] != strconv.Itoa(limitBurs) {
			t.Errorf("marker %q names another limit", line)
		}
		return true
	}
	for _, line := range lines["stderr"] {
		marker(line)
	}
	for _, line := range lines["stdout"] {
		if marker(line) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
		if err != nil || n <= last {
			t.Fatalf("log line %q after %d: not a whole line in order", line, last)
		}
		last = n
		logged += len(line)
	}
	if uint64(logged) != out.LoggedBytes {
		t.Errorf("the log holds %d bytes of output, exit.json says %d", logged, out.LoggedBytes)
	}
	if mBytes != out.DroppedBytes || mLines != out.DroppedLines {
		t.Errorf("markers add up to %d bytes, %d lines; exit.json: %d, %d", mBytes, mLines, out.DroppedBytes, out.DroppedLines)
	}
	// At least one marker per second of dropping, not one per chunk.
	if markers < 5 || markers > 15 {
		t.Errorf("%d markers in a 10 s run", markers)
	}
	t.Logf("written %d lines (%d bytes); logged %d bytes; dropped %d bytes, %d lines; %d markers",
		written, total, out.LoggedBytes, out.DroppedBytes, out.DroppedLines, markers)
}

func TestRateLimitBlock(t *testing.T) {
	extension(t)
	r, c, rec := limitedRun(t, "block", 10)
	out := rec.Logs["stdout"]
	attached := c.stream(2)
	attLines, _ := numberedLines(attached)
	n := checkNumbered(t, "attach stdout", attLines)
	// Every line is in the log, whole and in order.
	var log strings.Builder
	lines, tail := joinedLog(t, r.LogPath)
	for _, line := range append(lines["stdout"], tail["stdout"]...) {
		log.WriteString(line)
	}
	if log.String() != attached || out.DroppedBytes != 0 || out.LoggedBytes != uint64(len(attached)) {
		t.Fatalf("log holds %d bytes, attach %d, exit.json logged %d dropped %d",
			log.Len(), len(attached), out.LoggedBytes, out.DroppedBytes)
	}
	// The container wrote at the limit: 10 s at 1 MiB/s plus the burst
	// and what the pipe holds, within 10 %.
	want := 10*limitRate + limitBurs
	if got := len(attached); got < want*9/10 || got > want*11/10 {
		t.Errorf("the container wrote %d bytes in 10 s under 1 MiB/s (block), want %d ± 10 %%", got, want)
	}
	t.Logf("written and logged %d lines, %d bytes in 10 s", n, len(attached))
}

// An invalid annotation: one warning, the container runs unlimited.
func TestRateLimitInvalidAnnotation(t *testing.T) {
	extension(t)
	r := startMon(t, monOpts{
		Args:        []string{"sh", "-c", "seq 1 1000"},
		Annotations: map[string]string{rateKey: "fast"},
		Extra:       []string{"--log-level", "debug", "--syslog"},
	}).run()
	r.finish("0")
	rec := readExitRecord(t, r.Bundle)
	if out := rec.Logs["stdout"]; out.LoggedLines != 1000 || out.DroppedBytes != 0 {
		t.Errorf("logs %+v", rec.Logs)
	}
	if _, err := os.Stat(r.LogPath); err != nil {
		t.Fatal(err)
	}
}

// journald gets the same budget, and markers it can filter on.
func TestRateLimitJournald(t *testing.T) {
	extension(t)
	ensureJournald(t)
	const n = 20000
	r := startMon(t, monOpts{
		LogArgs:     []string{"-l", "journald"},
		Args:        []string{"sh", "-c", fmt.Sprintf("seq 1 %d", n)},
		Annotations: map[string]string{rateKey: "10Ki", policyKey: "drop"},
	}).run()
	r.finish("0")
	rec := readExitRecord(t, r.Bundle)
	out := rec.Logs["stdout"]
	if out.LoggedLines+out.DroppedLines != n || out.DroppedLines == 0 {
		t.Fatalf("exit.json: logged %d + dropped %d lines, want %d with some dropped", out.LoggedLines, out.DroppedLines, n)
	}
	var lines, markers, mLines, mBytes uint64
	want := int(out.LoggedLines) + 1 // at least one marker
	for _, e := range journalEntries(t, r.ID, want) {
		if e["SHIM_LOG_RATE_LIMITED"] == "1" {
			markers++
			l, _ := strconv.ParseUint(e["SHIM_DROPPED_LINES"], 10, 64)
			b, _ := strconv.ParseUint(e["SHIM_DROPPED_BYTES"], 10, 64)
			mLines, mBytes = mLines+l, mBytes+b
			if !markerRe.MatchString(e["MESSAGE"] + "\n") {
				t.Errorf("marker MESSAGE %q", e["MESSAGE"])
			}
			continue
		}
		lines++
	}
	if lines != out.LoggedLines || mLines != out.DroppedLines || mBytes != out.DroppedBytes || markers == 0 {
		t.Errorf("journal: %d lines, markers %d for %d lines, %d bytes; exit.json: logged %d, dropped %d lines, %d bytes",
			lines, markers, mLines, mBytes, out.LoggedLines, out.DroppedLines, out.DroppedBytes)
	}
}

// Through podman: `podman run --annotation` sets the limit (10 s as root;
// rootless, 3 s of drop only, to keep the suite short); podman's own
// k8s-file reader (podman logs) parses what the limit leaves.
func TestPodmanRateLimit(t *testing.T) {
	extension(t)
	forEachUser(t, func(t *testing.T, p *podman) {
		secs, policies := 10, []string{"drop", "block"}
		if p.user != nil {
			secs, policies = 3, policies[:1]
		}
		for _, policy := range policies {
			t.Run(policy, func(t *testing.T) {
				t.Parallel()
				name := p.runD(t, []string{"--annotation", rateKey + "=1Mi", "--annotation", burstKey + "=256Ki",
					"--annotation", policyKey + "=" + policy},
					"sh", "-c", fmt.Sprintf("timeout %d seq 1 999999999; echo done >&2", secs))
				if code := p.waitExitCode(t, name); code != 0 {
					t.Fatalf("exit code %d", code)
				}
				rec := readExitRecord(t, p.inspect(t, name).StaticDir)
				out := rec.Logs["stdout"]
				r := p.pm(t, "logs", name)
				if r.Code != 0 {
					t.Fatalf("podman logs: %d %s", r.Code, r.Stderr)
				}
				last, markers := 0, 0
				for _, line := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
					if markerRe.MatchString(line + "\n") {
						markers++
						continue
					}
					n, err := strconv.Atoi(line)
					if err != nil && strings.HasPrefix(strconv.Itoa(last+1), line) {
						continue // the last line, cut by timeout's kill
					}
					if err != nil || n != last+1 && policy == "block" || n <= last {
						t.Fatalf("podman logs: %q after %d", head(line, 60), last)
					}
					last = n
				}
				switch policy {
				case "drop":
					if out.DroppedBytes == 0 || markers == 0 {
						t.Errorf("dropped %d bytes, %d markers", out.DroppedBytes, markers)
					}
				case "block":
					want := uint64(10*limitRate + limitBurs)
					if out.DroppedBytes != 0 || markers != 0 || out.LoggedBytes < want*9/10 || out.LoggedBytes > want*11/10 {
						t.Errorf("logged %d bytes (want %d ± 10 %%), dropped %d, %d markers", out.LoggedBytes, want, out.DroppedBytes, markers)
					}
				}
				t.Logf("%s: %d lines read back, logged %d bytes, dropped %d bytes, %d markers", policy, last, out.LoggedBytes, out.DroppedBytes, markers)
			})
		}
	})
}
