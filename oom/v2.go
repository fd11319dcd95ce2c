package oom

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// eventsFile is one memory.events file and the counter values last seen in
// it. Each counter has its own last value ([HEAD]; 2.1.6 shared one, so an
// "oom" after an "oom_kill" of the same count went unnoticed).
type eventsFile struct {
	path      string
	oom, kill int64
	warned    bool // a read or parse problem was warned about (once)
}

// counters read from memory.events; a missing line leaves has* false.
type counters struct {
	oom, kill       int64
	hasOOM, hasKill bool
}

// parseEvents reads the "oom N" and "oom_kill N" lines. Values that are
// not base-10 integers are returned in bad and otherwise ignored.
func parseEvents(b []byte) (c counters, bad []string) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		key, val, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		var dst *int64
		var has *bool
		switch string(key) {
		case "oom":
			dst, has = &c.oom, &c.hasOOM
		case "oom_kill":
			dst, has = &c.kill, &c.hasKill
		default:
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(val)), 10, 64)
		if err != nil {
			bad = append(bad, string(line))
			continue
		}
		*dst, *has = n, true
	}
	return c, bad
}

// errGone says the memory.events file (so the cgroup) is no more.
var errGone = errors.New("cgroup removed")

// check reads the file and reports whether a counter moved to a new non-zero
// value since the last look.
func (f *eventsFile) check(lg Logger) (bool, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
		return false, errGone
	}
	if err != nil {
		return false, err
	}
	c, bad := parseEvents(b)
	if len(bad) > 0 && !f.warned {
		f.warned = true
		lg.Warnf("Failed to parse %s: %q", f.path, bad)
	}
	oom := false
	if c.hasOOM {
		oom = oom || (c.oom != 0 && c.oom != f.oom)
		f.oom = c.oom
	}
	if c.hasKill {
		oom = oom || (c.kill != 0 && c.kill != f.kill)
		f.kill = c.kill
	}
	return oom, nil
}

// v2 watches memory.events of the container's cgroup, and of its parent
// when the parent is the container's own (a runtime that nests the init in
// a sub-cgroup, as crun's "container" does, sets the limit one level up).
type v2 struct {
	files []*eventsFile
	f     *os.File // inotify
	lg    Logger
	gone  bool
}

// newV2 returns nil, nil when the cgroup has no memory.events (the memory
// controller is not enabled there): no OOM monitoring then.
func newV2(cg Cgroup, lg Logger) (source, error) {
	dirs := []string{cg.Dir}
	if ownParent(cg) {
		dirs = append(dirs, filepath.Dir(cg.Dir))
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("Failed to create inotify fd: %w", err)
	}
	s := &v2{f: os.NewFile(uintptr(fd), "oom-inotify"), lg: lg}
	for i, d := range dirs {
		p := filepath.Join(d, "memory.events")
		if _, err := unix.InotifyAddWatch(fd, p, unix.IN_MODIFY); err != nil {
			if i == 0 && errors.Is(err, unix.ENOENT) {
				s.f.Close()
				lg.Debugf("%s does not exist: no OOM monitoring", p)
				return nil, nil
			}
			if i == 0 {
				s.f.Close()
				return nil, fmt.Errorf("Failed to add inotify watch for %s: %w", p, err)
			}
			continue // the parent is only a bonus
		}
		ef := &eventsFile{path: p}
		// Count from the values at start: earlier OOMs (an exec session
		// joining a container that had one) are not this process's.
		if _, err := ef.check(lg); err != nil {
			lg.Warnf("Failed to read %s: %v", p, err)
		}
		s.files = append(s.files, ef)
	}
	return s, nil
}

// ownParent reports whether cg's parent holds nothing but cg: then its
// counters are this container's alone. A parent shared with other
// containers (podman's libpod_parent, a pod) would report their OOMs too.
func ownParent(cg Cgroup) bool {
	parent := filepath.Dir(cg.Dir)
	if cg.Root == "" || parent == cg.Dir || !isBelow(parent, cg.Root) {
		return false
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != filepath.Base(cg.Dir) {
			return false
		}
	}
	procs, err := os.ReadFile(filepath.Join(parent, "cgroup.procs"))
	return err == nil && len(bytes.TrimSpace(procs)) == 0
}

// isBelow reports whether dir is strictly inside root.
func isBelow(dir, root string) bool {
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

func (s *v2) run(fire func()) {
	buf := make([]byte, 4096)
	for {
		if _, err := s.f.Read(buf); err != nil {
			return // interrupted, or closed
		}
		// Which watch fired matters little: look at every file.
		oom, gone := s.checkAll()
		if oom {
			fire()
		}
		if gone {
			return
		}
	}
}

// checkAll checks every file; gone is true once the container's own
// memory.events has vanished.
func (s *v2) checkAll() (oom, gone bool) {
	for i, f := range s.files {
		hit, err := f.check(s.lg)
		oom = oom || hit
		switch {
		case errors.Is(err, errGone) && i == 0:
			if !s.gone {
				s.gone = true
				s.lg.Debugf("%s", RemovedMessage)
			}
			return oom, true
		case err != nil && !errors.Is(err, errGone) && !f.warned:
			f.warned = true
			s.lg.Warnf("Failed to read %s: %v", f.path, err)
		}
	}
	return oom, false
}

func (s *v2) interrupt() { _ = s.f.SetReadDeadline(time.Unix(1, 0)) }

func (s *v2) final() bool {
	if s.gone {
		return false
	}
	oom, _ := s.checkAll()
	return oom
}

func (s *v2) close() { s.f.Close() }
