package metrics

import (
	"bytes"
	"strconv"
	"testing"
)

func TestResidentBytes(t *testing.T) {
	n, ok := residentBytes()
	if !ok || n < 1<<20 {
		t.Fatalf("residentBytes = %d, %v", n, ok)
	}
}

func TestStatusKiB(t *testing.T) {
	status := []byte("Name:\tshim\nVmPeak:\t  1000 kB\nVmHWM:\t    3456 kB\nVmRSS:\t 3000 kB\n")
	if n, ok := statusKiB(status, "VmHWM:"); !ok || n != 3456<<10 {
		t.Errorf("VmHWM = %d, %v", n, ok)
	}
	for _, bad := range []string{"", "VmHWM:\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n", "VmHWM: 1 2 kB\n"} {
		if n, ok := statusKiB([]byte(bad), "VmHWM:"); ok {
			t.Errorf("%q: %d, ok", bad, n)
		}
	}
	if n, ok := PeakResidentBytes(); !ok || n == 0 {
		t.Errorf("PeakResidentBytes = %d, %v", n, ok)
	}
}

func FuzzStatusKiB(f *testing.F) {
	f.Add([]byte("VmHWM:\t    3456 kB\n"), "VmHWM:")
	f.Add([]byte("Name: x\nVmRSS: 1 kB"), "VmRSS:")
	f.Fuzz(func(t *testing.T, status []byte, key string) {
		n, ok := statusKiB(status, key)
		if !ok {
			if n != 0 {
				t.Fatalf("not found but %d", n)
			}
			return
		}
		if n%1024 != 0 || n > 1<<60 {
			t.Fatalf("%d is not a plausible KiB count", n)
		}
		// The number it found is in the input, after the key.
		if !bytes.Contains(status, []byte(strconv.FormatUint(n>>10, 10))) {
			t.Fatalf("%d KiB not in %q", n>>10, status)
		}
	})
}
