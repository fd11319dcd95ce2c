package integration

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// pairsScript writes "out N" to stdout and then "err N" to stderr, n times,
// with pause after each pair (busybox usleep; "" for none).
func pairsScript(n int, pause string) []string {
	sleep := ""
	if pause != "" {
		sleep = "usleep " + pause + ";"
	}
	return []string{"sh", "-c", fmt.Sprintf(
		`i=0; while [ $i -lt %d ]; do echo "out $i"; echo "err $i" >&2; %s i=$((i+1)); done`, n, sleep)}
}

// byTime reads a k8s-file log as "stream content" lines sorted by timestamp,
// ties in file order: what `podman logs` and `kubectl logs` show.
func byTime(t *testing.T, path string) []string {
	t.Helper()
	es := parseLog(t, path)
	sort.SliceStable(es, func(i, j int) bool { return es[i].Time.Before(es[j].Time) })
	var out []string
	for _, e := range es {
		if e.Tag != "F" {
			t.Fatalf("%s: a partial entry %q: every line is written whole", path, e.Content)
		}
		out = append(out, e.Stream+" "+strings.TrimSuffix(e.Content, "\n"))
	}
	return out
}

// TestStreamOrderPaused: output written to stdout and then stderr is logged
// in that order by timestamp. With one reader goroutine per stream the
// scheduler often ran stderr's first, and the log showed "err N" before
// "out N".
func TestStreamOrderPaused(t *testing.T) {
	const n = 200
	r := startMon(t, monOpts{Args: pairsScript(n, "10000")}).run()
	r.finish("0")
	got := byTime(t, r.LogPath)
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("stdout out %d", i), fmt.Sprintf("stderr err %d", i))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		for i := range want {
			if i >= len(got) || got[i] != want[i] {
				t.Fatalf("log by timestamp differs at entry %d: got %q, want %q (%d entries, want %d)",
					i, got[min(i, len(got)-1)], want[i], len(got), len(want))
			}
		}
		t.Fatalf("log by timestamp has %d entries, want %d", len(got), len(want))
	}
}

// TestStreamOrderInversions measures, without pauses, the inversions in the
// log of the monitor under test and of conmon, in the same run, and asserts
// the monitor has no more than conmon. An inversion is a pair of lines of
// the two streams logged (by timestamp) against the order they were written:
// "out i" after "err j" with i <= j, or "err j" after "out i" with j < i.
// Without pauses both streams are often ready together and a read takes a
// stream's whole backlog, so some inversions are unavoidable for any reader:
// this is a comparison, not a bound. One round can be far off either way
// (a monitor descheduled for a moment on a loaded machine logs a whole
// backlog as two chunks), so the medians over the rounds are compared. It
// also logs how often "err N" came
// before "out N" alone, a count that favours a reader that always takes
// stdout first (conmon) at the price of more "out N+1" before "err N".
func TestStreamOrderInversions(t *testing.T) {
	setup(t)
	if _, err := os.Stat(refConmon); err != nil {
		t.Skipf("no %s to compare with: %v", refConmon, err)
	}
	pairs, rounds := 500, 7
	if v, err := strconv.Atoi(os.Getenv("ORDER_ROUNDS")); err == nil { // more, to study it
		rounds = v
	}
	count := func(bin string) (inv, cross int) {
		r := startMon(t, monOpts{Bin: bin, Args: pairsScript(pairs, "")}).run()
		r.finish("0")
		at := map[string]int{}
		for i, e := range byTime(t, r.LogPath) {
			at[e] = i
		}
		out, errs := make([]int, pairs), make([]int, pairs)
		for i := 0; i < pairs; i++ {
			var okO, okE bool
			out[i], okO = at[fmt.Sprintf("stdout out %d", i)]
			errs[i], okE = at[fmt.Sprintf("stderr err %d", i)]
			if !okO || !okE {
				t.Fatalf("%s: out %d or err %d missing from the log", bin, i, i)
			}
			if errs[i] < out[i] {
				inv++
			}
		}
		for i := range out {
			for j := range errs {
				if (i <= j) != (out[i] < errs[j]) {
					cross++
				}
			}
		}
		return inv, cross
	}
	var ours, ref, oursX, refX []int
	for round := 0; round < rounds; round++ { // interleaved: both see the same load
		a, ax := count(shimBin)
		b, bx := count(refConmon)
		t.Logf("round %d: inversions %d by %s, %d by conmon; err N before out N: %d of %d pairs, conmon %d",
			round, ax, shimBin, bx, a, pairs, b)
		ours, ref, oursX, refX = append(ours, a), append(ref, b), append(oursX, ax), append(refX, bx)
	}
	t.Logf("median of %d rounds of %d pairs: inversions %d by %s, %d by conmon; err N before out N: %d, conmon %d",
		rounds, pairs, median(oursX), shimBin, median(refX), median(ours), median(ref))
	if median(oursX) > median(refX) {
		t.Errorf("median %d inversions, conmon %d: the monitor reorders stdout and stderr more than conmon",
			median(oursX), median(refX))
	}
}

func median(v []int) int {
	s := append([]int(nil), v...)
	sort.Ints(s)
	return s[len(s)/2]
}
