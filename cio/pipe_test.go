package cio

import (
	"strings"
	"testing"
)

func TestIsInitialUIDMap(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n": true,
		"0 0 4294967295":                     true,
		"         0       1000          1\n": false,
		"0 0 4294967295\n1 1 1\n":            false,
		"0 0":                                false,
		"":                                   false,
		"0 0 42949672950":                    false,
	} {
		if got := isInitialUIDMap([]byte(m)); got != want {
			t.Errorf("%q: %v, want %v", m, got, want)
		}
	}
}

// FuzzIsInitialUIDMap checks the allocation-free reading against
// strings.Fields.
func FuzzIsInitialUIDMap(f *testing.F) {
	f.Add("         0          0 4294967295\n")
	f.Add("0\t0\v4294967295 ")
	f.Fuzz(func(t *testing.T, m string) {
		want := strings.Join(strings.Fields(m), " ") == "0 0 4294967295"
		if got := isInitialUIDMap([]byte(m)); got != want {
			t.Fatalf("%q: %v, want %v", m, got, want)
		}
	})
}
