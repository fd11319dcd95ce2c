package main

import (
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
)

// heapReturn gives the heap's free pages back to the kernel when a burst
// of work ends (cio.Options.Quiet), but only if the collector ran during
// it. Go keeps freed heap for reuse, so a monitor that went through a burst
// of allocations (attach clients, say) would otherwise stay that size
// while idle. A monitor that never collected keeps its garbage instead:
// the first collection makes the collector's own structures resident,
// about 300 KiB for good, more than a start-up's garbage (docs/memory.md).
type heapReturn struct {
	mu     sync.Mutex
	cycles uint64 // collections counted at the last return
	sample [1]rtmetrics.Sample
}

func newHeapReturn() *heapReturn {
	h := &heapReturn{}
	h.sample[0].Name = "/gc/cycles/total:gc-cycles"
	return h
}

// quiet returns the free heap if a collection ran since the last return.
func (h *heapReturn) quiet() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.read() == h.cycles {
		return
	}
	debug.FreeOSMemory()
	h.cycles = h.read() // FreeOSMemory collected once more
}

func (h *heapReturn) read() uint64 {
	rtmetrics.Read(h.sample[:])
	if h.sample[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return h.sample[0].Value.Uint64()
}
