package main

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/metrics"
)

// Where monitors put their metrics socket: in the bundle (-b), beside the
// attach socket. The engines' bundles are
//
//	podman, root      /var/lib/containers/storage/overlay-containers/<id>/userdata
//	podman, rootless  ~/.local/share/containers/storage/overlay-containers/<id>/userdata
//	CRI-O             /run/containers/storage/overlay-containers/<id>/userdata
//	exec sessions     <container bundle>/<session id>  (podman exec)
//
// so under a containers/storage root (graph root or run root) the sockets
// are at fixed depths, and nothing deeper needs to be searched: a full walk
// would descend into every image layer.
var patterns = []string{
	metrics.SocketName,
	filepath.Join("*", metrics.SocketName), // a directory of plain bundles
	filepath.Join("*-containers", "*", "userdata", metrics.SocketName),
	filepath.Join("*-containers", "*", "userdata", "*", metrics.SocketName),
}

// defaultDirs are podman's and CRI-O's storage roots for this user.
func defaultDirs() []string {
	dirs := []string{"/var/lib/containers/storage", "/run/containers/storage"}
	if os.Geteuid() == 0 {
		return dirs
	}
	// Rootless podman: graph root in the data home, run root in the
	// runtime dir.
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		if home, err := os.UserHomeDir(); err == nil {
			data = filepath.Join(home, ".local", "share")
		}
	}
	if data != "" {
		dirs = append(dirs, filepath.Join(data, "containers", "storage"))
	}
	if run := os.Getenv("XDG_RUNTIME_DIR"); run != "" {
		dirs = append(dirs, filepath.Join(run, "containers"))
	}
	return dirs
}

// discover returns the metrics sockets under dirs, each once even when
// reachable by two paths (a symlinked directory, overlapping roots).
func discover(dirs []string) []string {
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	var out []string
	for _, d := range dirs {
		for _, p := range patterns {
			matches, _ := filepath.Glob(filepath.Join(d, p)) // only ErrBadPattern
			for _, m := range matches {
				var st unix.Stat_t
				if unix.Lstat(m, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
					continue
				}
				k := key{st.Dev, st.Ino}
				if !seen[k] {
					seen[k] = true
					out = append(out, m)
				}
			}
		}
	}
	return out
}
