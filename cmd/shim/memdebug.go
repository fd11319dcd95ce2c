//go:build memdebug

// A diagnostics build for docs/memory.md, never the product (go build -tags
// memdebug ./cmd/shim): on SIGUSR2 the daemon writes runtime.MemStats,
// every goroutine's stack and a heap profile to <tmp>/shim-memdebug.<pid>.
// SHIM_MEMPROF=1 in its environment profiles every allocation, which itself
// costs memory: use it for allocation sites, not for sizes.

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"

	"golang.org/x/sys/unix"
)

func init() {
	if os.Getenv(daemonEnv) == "" {
		return
	}
	if os.Getenv("SHIM_MEMPROF") == "1" {
		runtime.MemProfileRate = 1
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGUSR2)
	go func() {
		for range ch {
			path := filepath.Join(os.TempDir(), "shim-memdebug."+strconv.Itoa(os.Getpid()))
			if err := writeMemDebug(path); err != nil {
				fmt.Fprintf(os.Stderr, "memdebug: %v\n", err)
			}
		}
	}()
}

func writeMemDebug(path string) error {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // first: what follows allocates
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer f.Close()
	fmt.Fprintf(f, "HeapAlloc %d HeapInuse %d HeapIdle %d HeapReleased %d HeapSys %d\n",
		ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.HeapSys)
	fmt.Fprintf(f, "StackInuse %d StackSys %d MSpanInuse %d MCacheInuse %d GCSys %d OtherSys %d BuckHashSys %d Sys %d\n",
		ms.StackInuse, ms.StackSys, ms.MSpanInuse, ms.MCacheInuse, ms.GCSys, ms.OtherSys, ms.BuckHashSys, ms.Sys)
	fmt.Fprintf(f, "NumGC %d Mallocs %d Frees %d Goroutines %d\n\n", ms.NumGC, ms.Mallocs, ms.Frees, runtime.NumGoroutine())
	// Every size class in use keeps at least a page of its own resident.
	classes := 0
	for _, c := range ms.BySize {
		if c.Mallocs > 0 {
			classes++
			fmt.Fprintf(f, "class %d mallocs %d frees %d\n", c.Size, c.Mallocs, c.Frees)
		}
	}
	fmt.Fprintf(f, "size classes used: %d\n\n", classes)
	buf := make([]byte, 1<<20)
	f.Write(buf[:runtime.Stack(buf, true)])
	fmt.Fprintln(f, "\n==== heap profile")
	return pprof.Lookup("heap").WriteTo(f, 1)
}
