package logs

import (
	"math/rand"
	"testing"
	"time"
)

// goLayout produces conmon's timestamp with Go's formatter; "-07:00" (not
// "Z07:00") keeps "+00:00" for UTC.
const goLayout = "2006-01-02T15:04:05.000000000-07:00"

func TestStampExamples(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 27, 2, 10, 25, 400794344, time.UTC), "2026-11-27T02:10:25.400794344+00:00"},
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000000000+00:00"},
		{time.Date(2026, 6, 1, 23, 59, 59, 999999999, time.FixedZone("IST", 5*3600+1800)), "2026-06-01T23:59:59.999999999+05:30"},
		{time.Date(2026, 6, 1, 0, 0, 0, 7, time.FixedZone("NST", -(3*3600+1800))), "2026-06-01T00:00:00.000000007-03:30"},
		{time.Date(999, 12, 31, 1, 2, 3, 4, time.FixedZone("X", -12*3600)), "0999-12-31T01:02:03.000000004-12:00"},
	}
	var c stampCache
	for _, tc := range tests {
		if got := string(c.format(tc.t)); got != tc.want {
			t.Errorf("format(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

// TestStampMatchesGo compares against time.Format over random instants in
// several zones, and exercises the per-second cache (same second, next
// second, other zone).
func TestStampMatchesGo(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	zones := []*time.Location{time.UTC, time.Local, berlin, time.FixedZone("m", -7*3600)}
	rng := rand.New(rand.NewSource(1))
	var c stampCache
	base := time.Date(2026, 3, 29, 0, 59, 58, 0, time.UTC) // around a DST switch
	for i := 0; i < 20000; i++ {
		d := time.Duration(rng.Int63n(int64(4 * time.Second)))
		if i%100 == 0 {
			d = time.Duration(rng.Int63n(int64(400 * 24 * time.Hour)))
		}
		ts := base.Add(d).In(zones[rng.Intn(len(zones))])
		if got, want := string(c.format(ts)), ts.Format(goLayout); got != want {
			t.Fatalf("format(%v) = %s, want %s", ts, got, want)
		}
	}
}

// TestStampParsesLikePodman checks the local-time stamp parses with the
// layout podman uses for k8s-file logs.
func TestStampParsesLikePodman(t *testing.T) {
	var c stampCache
	now := time.Now()
	got, err := time.Parse("2006-01-02T15:04:05.000000000Z07:00", string(c.format(now)))
	if err != nil || !got.Equal(now.Round(0)) {
		t.Fatalf("podman layout parse = %v, %v; want %v", got, err, now)
	}
}
