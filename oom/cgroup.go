package oom

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
func Locate(pid int) (Cgroup, error) {
	procPath := "/proc/" + strconv.Itoa(pid) + "/cgroup"
	pc, err := os.ReadFile(procPath)
	if err != nil {
		return Cgroup{}, fmt.Errorf("read %s: %w", procPath, err)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return Cgroup{}, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	return parseLocation(string(pc), string(mi))
}

// parseLocation combines /proc/<pid>/cgroup with the mount table.
func parseLocation(procCgroup, mountinfo string) (Cgroup, error) {
	var v1Path, v2Path string
	v2Seen := false
	for _, line := range strings.Split(procCgroup, "\n") {
		// hierarchy-ID:controller-list:path
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id == "0" && ctrls == "" {
			v2Path, v2Seen = path, true
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			if c == "memory" {
				v1Path = path
			}
		}
	}
	mounts := parseMounts(mountinfo)
	if v1Path != "" {
		for _, m := range mounts {
			if m.fstype == "cgroup" && hasOpt(m.superOpts, "memory") {
				return Cgroup{V1: true, Dir: m.join(v1Path), Root: m.point}, nil
			}
		}
		return Cgroup{}, errors.New("memory cgroup hierarchy is not mounted")
	}
	if v2Seen {
		for _, m := range mounts {
			if m.fstype == "cgroup2" {
				return Cgroup{Dir: m.join(v2Path), Root: m.point}, nil
			}
		}
		return Cgroup{}, errors.New("cgroup2 hierarchy is not mounted")
	}
	return Cgroup{}, errors.New("no memory cgroup for the process")
}

type mount struct {
	root, point, fstype, superOpts string
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

// parseMounts reads /proc/self/mountinfo lines:
// "36 35 98:0 /root /point opts [optional...] - fstype source superopts".
func parseMounts(mountinfo string) []mount {
	var out []mount
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+4 {
			continue
		}
		out = append(out, mount{
			root: unescape(f[3]), point: unescape(f[4]),
			fstype: f[sep+1], superOpts: f[sep+3],
		})
	}
	return out
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
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
