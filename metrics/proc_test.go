package metrics

import "testing"

func TestResidentBytes(t *testing.T) {
	n, ok := residentBytes()
	if !ok || n < 1<<20 {
		t.Fatalf("residentBytes = %d, %v", n, ok)
	}
}
