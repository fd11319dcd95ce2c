package oom

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// Mount tables and /proc/<pid>/cgroup contents as the kernel writes them.
const (
	hybridMounts = `25 1 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
30 25 0:27 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	hybridProc = `9:name=systemd:/
4:memory:/libpod_parent/libpod-abc
1:cpu:/
0::/
`
	v2Mounts = `35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	v2Proc = "0::/machine.slice/libpod-abc.scope/container\n"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		name, proc, mounts string
		want               Cgroup
		wantErr            bool
	}{
		{"hybrid: memory on v1", hybridProc, hybridMounts,
			Cgroup{V1: true, Dir: "/sys/fs/cgroup/memory/libpod_parent/libpod-abc", Root: "/sys/fs/cgroup/memory"}, false},
		{"unified", v2Proc, v2Mounts,
			Cgroup{Dir: "/sys/fs/cgroup/machine.slice/libpod-abc.scope/container", Root: "/sys/fs/cgroup"}, false},
		{"v1 with combined controllers", "5:cpu,memory:/a/b\n",
			"40 25 0:40 / /cg/cpu,memory rw - cgroup cgroup rw,cpu,memory\n",
			Cgroup{V1: true, Dir: "/cg/cpu,memory/a/b", Root: "/cg/cpu,memory"}, false},
		{"mount of a subtree, escaped mount point", "0::/outer/inner\n",
			`50 1 0:50 /outer /my\040cgroup rw - cgroup2 none rw` + "\n",
			Cgroup{Dir: "/my cgroup/inner", Root: "/my cgroup"}, false},
		{"memory option must match exactly", "4:memory:/x\n",
			"30 25 0:27 / /m rw - cgroup cgroup rw,memory_recursiveprot\n", Cgroup{}, true},
		{"memory hierarchy not mounted", hybridProc, v2Mounts, Cgroup{}, true},
		{"no cgroup lines", "", v2Mounts, Cgroup{}, true},
	} {
		// The smallest buffer bufio allows: every line here is longer.
		for _, size := range []int{16, mountinfoBuf} {
			got, err := parseLocation(tc.proc, newLineReader(strings.NewReader(tc.mounts), make([]byte, size)))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("%s (buffer %d): got %+v, %v; want %+v (error %v)", tc.name, size, got, err, tc.want, tc.wantErr)
			}
		}
	}
}

func TestLocateSelf(t *testing.T) {
	cg, err := Locate(1)
	if err != nil {
		t.Skipf("no memory cgroup visible here: %v", err)
	}
	if cg.Dir == "" || cg.Root == "" {
		t.Fatalf("Locate(1) = %+v", cg)
	}
	if _, err := Locate(-5); err == nil {
		t.Fatal("Locate of a pid that cannot exist succeeded")
	}
}

// TestLocateCopiesOutOfScratch: what locate returns must not point into
// its buffers, which Locate unmaps afterwards.
func TestLocateCopiesOutOfScratch(t *testing.T) {
	proc, mounts := make([]byte, procCgroupMax), make([]byte, mountinfoBuf)
	cg, err := locate(os.Getpid(), proc, mounts)
	if err != nil {
		t.Skipf("no memory cgroup visible here: %v", err)
	}
	want := Cgroup{V1: cg.V1, Dir: strings.Clone(cg.Dir), Root: strings.Clone(cg.Root)}
	for i := range proc {
		proc[i] = 'X'
	}
	for i := range mounts {
		mounts[i] = 'X'
	}
	if cg != want {
		t.Fatalf("result changed with its buffers: %+v, was %+v", cg, want)
	}
}

// stuckReader returns nothing, forever, without an error.
type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderGivesUpOnNoProgress(t *testing.T) {
	_, err := parseLocation("4:memory:/x\n", newLineReader(stuckReader{}, make([]byte, 64)))
	if !errors.Is(err, io.ErrNoProgress) || !errors.Is(err, errMountinfo) {
		t.Fatalf("got %v, want a mount table error wrapping io.ErrNoProgress", err)
	}
}

// TestLocateProcCgroupLargerThanScratch: a /proc/<pid>/cgroup that does
// not fit the scratch buffer is read whole instead, with the same result.
func TestLocateProcCgroupLargerThanScratch(t *testing.T) {
	want, err := locate(os.Getpid(), make([]byte, procCgroupMax), make([]byte, mountinfoBuf))
	if err != nil {
		t.Skipf("no memory cgroup visible here: %v", err)
	}
	got, err := locate(os.Getpid(), make([]byte, 4), make([]byte, mountinfoBuf))
	if err != nil || got != want {
		t.Fatalf("with a 4-byte buffer: %+v, %v; want %+v", got, err, want)
	}
}
