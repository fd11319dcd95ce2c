package testutil

import (
	"os"
	"testing"
)

// OpenFds returns the number of descriptors this process has open (not
// counting the one that reads /proc/self/fd). Leak checks compare two calls.
func OpenFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count open fds: %v", err)
	}
	return len(ents) - 1
}
