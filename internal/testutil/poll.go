package testutil

import (
	"testing"
	"time"
)

// pollEvery is how often Within and Eventually re-check: short enough for
// unit tests that wait on a goroutine, cheap enough for integration tests
// whose condition runs a command.
const pollEvery = 5 * time.Millisecond

// Within polls cond until it holds (true) or timeout passes (false), for
// callers that report the failure themselves.
func Within(timeout time.Duration, cond func() bool) bool {
	return within(timeout, pollEvery, cond)
}

func within(timeout, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
}

// Eventually polls cond until it holds, and stops the test when timeout
// passes first; what names the awaited condition in the failure.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
