package logs

import (
	"testing"
	"unsafe"
)

// TestK8sLogIsSmall: an idle monitor keeps its K8sLog for life, and a heap
// object of a size class nothing else uses costs a page of its own
// (docs/memory.md). The iovecs, 2 KiB, are allocated at the first output.
func TestK8sLogIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(K8sLog{}); n > 1024 {
		t.Fatalf("K8sLog is %d bytes; keep what only output needs out of it", n)
	}
}
