package oom

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/pagebuf"
)

// Cgroup is where a container's memory accounting lives.
type Cgroup struct {
	V1  bool   // the memory controller is on a v1 hierarchy
	Dir string // absolute directory of the cgroup
	// Root is the mount point of the hierarchy: v2 looks at Dir's parent
	// too, but never at the root or above it.
	Root string
}

// Locate finds the memory cgroup of pid: a v1 memory hierarchy if the
// process has one (hybrid hosts keep memory on v1), else the unified one.
//
// The mount table is scanned line by line through one small buffer: it
// holds every container's mounts, so on a busy node it is large, and every
// monitor reads it once; read whole and split, its garbage stayed in the
// idle monitor's heap (no GC runs that early).
func Locate(pid int) (Cgroup, error) {
	var cg Cgroup
	var err error
	pagebuf.Scratch(procCgroupMax+mountinfoBuf, func(b []byte) {
		cg, err = locate(pid, b[:procCgroupMax], b[procCgroupMax:])
	})
	return cg, err
}

// locate is Locate with its buffers: procBuf for /proc/<pid>/cgroup and
// mountBuf for the mount table. Both are scratch: what it returns is
// copied out of them (filepath.Join and unescape build new strings).
func locate(pid int, procBuf, mountBuf []byte) (Cgroup, error) {
	procPath := "/proc/" + strconv.Itoa(pid) + "/cgroup"
	pc, err := cabi.ReadFileInto(procPath, procBuf)
	if errors.Is(err, cabi.ErrDoesNotFit) {
		pc, err = os.ReadFile(procPath)
	}
	if err != nil {
		return Cgroup{}, fmt.Errorf("read %s: %w", procPath, err)
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Cgroup{}, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	defer mi.Close()
	cg, err := parseLocation(unsafe.String(unsafe.SliceData(pc), len(pc)), newLineReader(mi, mountBuf))
	if errors.Is(err, errMountinfo) {
		return Cgroup{}, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	return cg, err
}

// procCgroupMax is the most of /proc/<pid>/cgroup read into scratch: a
// line per v1 hierarchy, about 1.5 KiB with Kubernetes' paths.
const procCgroupMax = 8 << 10

// mountinfoBuf holds one read of the mount table; a longer line (overlay
// mounts with many layers) is put together in a slice of its own.
const mountinfoBuf = 4 << 10

var errMountinfo = errors.New("mount table")

// parseLocation combines /proc/<pid>/cgroup with the mount table.
func parseLocation(procCgroup string, mountinfo *lineReader) (Cgroup, error) {
	var v1Path, v2Path string
	v2Seen := false
	for rest := procCgroup; rest != ""; {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		// hierarchy-ID:controller-list:path
		id, tail, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(tail, ":")
		if !ok {
			continue
		}
		if id == "0" && ctrls == "" {
			v2Path, v2Seen = path, true
			continue
		}
		if hasOpt(ctrls, "memory") {
			v1Path = path
		}
	}
	switch {
	case v1Path != "":
		m, ok, err := findMount(mountinfo, func(fstype, superOpts []byte) bool {
			return string(fstype) == "cgroup" && hasOpt(string(superOpts), "memory")
		})
		if err != nil {
			return Cgroup{}, err
		}
		if !ok {
			return Cgroup{}, errors.New("memory cgroup hierarchy is not mounted")
		}
		return Cgroup{V1: true, Dir: m.join(v1Path), Root: m.point}, nil
	case v2Seen:
		m, ok, err := findMount(mountinfo, func(fstype, _ []byte) bool { return string(fstype) == "cgroup2" })
		if err != nil {
			return Cgroup{}, err
		}
		if !ok {
			return Cgroup{}, errors.New("cgroup2 hierarchy is not mounted")
		}
		return Cgroup{Dir: m.join(v2Path), Root: m.point}, nil
	}
	return Cgroup{}, errors.New("no memory cgroup for the process")
}

type mount struct {
	root, point string
}

// join maps a cgroup path (relative to the hierarchy's root) into the mount.
func (m mount) join(path string) string {
	if m.root != "/" {
		if rel, ok := strings.CutPrefix(path, m.root); ok {
			path = rel
		}
	}
	return filepath.Join(m.point, path)
}

// findMount returns the first mount of /proc/self/mountinfo that want
// accepts, reading it line by line:
// "36 35 98:0 /root /point opts [optional...] - fstype source superopts".
// Only the mount found is copied out of the buffer.
func findMount(r *lineReader, want func(fstype, superOpts []byte) bool) (mount, bool, error) {
	var long []byte // a line longer than r's buffer, put together
	for {
		line, err := r.ReadSlice()
		if err == bufio.ErrBufferFull {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = long[:0]
		}
		if root, point, ok := mountLine(line, want); ok {
			return mount{root: unescape(string(root)), point: unescape(string(point))}, true, nil
		}
		if err == io.EOF {
			return mount{}, false, nil
		}
		if err != nil {
			return mount{}, false, fmt.Errorf("%w: %w", errMountinfo, err)
		}
	}
}

// mountLine splits one mountinfo line into its fields, without copying,
// and reports its root and mount point if want accepts its type and super
// options.
func mountLine(line []byte, want func(fstype, superOpts []byte) bool) (root, point []byte, ok bool) {
	var f [6][]byte // id, parent, major:minor, root, point, options
	rest := line
	for i := range f {
		if f[i], rest = field(rest); f[i] == nil {
			return nil, nil, false
		}
	}
	for { // optional fields up to the "-" separator
		var sep []byte
		if sep, rest = field(rest); sep == nil {
			return nil, nil, false
		}
		if string(sep) == "-" {
			break
		}
	}
	fstype, rest := field(rest)
	source, rest := field(rest)
	superOpts, _ := field(rest)
	if source == nil || superOpts == nil || !want(fstype, superOpts) {
		return nil, nil, false
	}
	return f[3], f[4], true
}

// field returns the first whitespace-separated field of s (nil if none)
// and what follows it.
func field(s []byte) (f, rest []byte) {
	start := 0
	for start < len(s) && isSpace(s[start]) {
		start++
	}
	end := start
	for end < len(s) && !isSpace(s[end]) {
		end++
	}
	if end == start {
		return nil, nil
	}
	return s[start:end], s[end:]
}

// isSpace is what strings.Fields splits mountinfo lines on.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func hasOpt(opts, want string) bool {
	for rest := opts; rest != ""; {
		var o string
		o, rest, _ = strings.Cut(rest, ",")
		if o == want {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
