package metrics

import (
	"bytes"
	"os"
	"strconv"
)

// residentBytes is the monitor's resident set size, from /proc/self/statm
// (its second field, in pages).
func residentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

// PeakResidentBytes is the monitor's peak resident set size (VmHWM in
// /proc/self/status), for the exit record.
func PeakResidentBytes() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return statusKiB(b, "VmHWM:")
}

// statusKiB finds "<key> <n> kB" in /proc/PID/status content and returns n
// KiB in bytes.
func statusKiB(status []byte, key string) (uint64, bool) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		n, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil || n > 1<<50 {
			return 0, false
		}
		return n << 10, true
	}
	return 0, false
}
