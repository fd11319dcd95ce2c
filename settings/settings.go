// Package settings reads the per-container features that conmon has no flag
// for (docs/interface.md §16.4) from OCI annotations in the bundle's
// config.json, with defaults from the monitor's environment. No engine
// change is needed: `podman run --annotation K=V` and CRI-O (which copies
// pod and container annotations into every container's config.json) both
// put them there.
//
// Precedence, per setting: the per-container key
// (<name>.shim-project.github.io/<container>, the form Kubernetes uses for
// AppArmor profiles), then the key for every container of the pod
// (shim-project.github.io/<name>), then SHIM_<NAME> in the environment,
// then off. A value that does not parse is reported once and the next
// source is used.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Domain is the annotation prefix's DNS part. Keys are
// Domain + "/" + name, or name + "." + Domain + "/" + container.
const Domain = "shim-project.github.io"

// ContainerNameKey is where CRI-O records the Kubernetes container name.
const ContainerNameKey = "io.kubernetes.container.name"

// MaxConfigSize bounds how much of config.json is read: specs are a few KiB,
// and a monitor must not be made to hold a huge file by whoever wrote it.
const MaxConfigSize = 4 << 20

// Policy is what the log rate limit does with output over its budget.
type Policy int

const (
	// Drop keeps the output from the log drivers (attach clients still get
	// it) and logs a marker saying how much was dropped.
	Drop Policy = iota
	// Block stops reading the container's pipes while over budget, so the
	// container's writes block: nothing is lost.
	Block
)

func (p Policy) String() string {
	if p == Block {
		return "block"
	}
	return "drop"
}

// Settings are one container's features; the zero value is "all off".
type Settings struct {
	LogRate   int64  // bytes per second, both streams together; 0 = no limit
	LogBurst  int64  // bytes that may go over LogRate at once; 0 = LogRate
	LogPolicy Policy // with LogRate > 0

	// Scrollback is how many bytes of recent output a new attach client
	// gets first; 0 = none kept.
	Scrollback int64
}

// MaxScrollback caps Scrollback: it is held in memory for the container's
// whole life.
const MaxScrollback = 1 << 20

// Names of the settings, as used in annotation keys and (upper-cased, with
// '-' as '_', after SHIM_) in environment variables.
const (
	NameLogRate    = "log-rate"
	NameLogBurst   = "log-burst"
	NameLogPolicy  = "log-rate-policy"
	NameScrollback = "attach-scrollback"
)

// Warner receives one message per value that was ignored.
type Warner interface {
	Warnf(format string, args ...any)
}

// EnvName is the environment variable holding the default for name.
func EnvName(name string) string {
	return "SHIM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Load reads <bundle>/config.json and the environment (getenv, e.g.
// os.Getenv). A missing or unreadable config.json only leaves the
// environment's defaults; it is not an error, since the features are
// optional and the container must run.
func Load(bundle string, getenv func(string) string, w Warner) Settings {
	var ann map[string]string
	if bundle != "" {
		var err error
		ann, err = readAnnotations(filepath.Join(bundle, "config.json"))
		if err != nil {
			w.Warnf("settings: %v; using the environment's defaults", err)
		}
	}
	return FromAnnotations(ann, getenv, w)
}

// readAnnotations returns config.json's annotations. The file is mapped,
// not read onto the heap (a Go heap that grows at start-up stays grown:
// every monitor would pay for the biggest config.json it ever read), and
// only its "annotations" member is decoded, only when the file mentions
// Domain at all.
func readAnnotations(path string) (map[string]string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil, fmt.Errorf("%s: not a regular file", path)
	case st.Size > MaxConfigSize:
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxConfigSize)
	case st.Size == 0:
		return nil, nil
	}
	// The pointer form: unix.Mmap keeps a heap map of its mappings.
	p, err := unix.MmapPtr(fd, 0, nil, uintptr(st.Size), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	defer unix.MunmapPtr(p, uintptr(st.Size))
	data := unsafe.Slice((*byte)(p), int(st.Size))
	if !bytes.Contains(data, []byte(Domain)) {
		return nil, nil
	}
	raw := annotationsValue(data)
	if raw == nil {
		return nil, fmt.Errorf("parse %s: no annotations object found", path)
	}
	// The runtime spec's own type for them, decoded from a copy-free view.
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec.Annotations); err != nil {
		return nil, fmt.Errorf("parse %s annotations: %w", path, err)
	}
	return spec.Annotations, nil
}

// FromAnnotations resolves every setting from ann (may be nil) and getenv.
func FromAnnotations(ann map[string]string, getenv func(string) string, w Warner) Settings {
	r := resolver{ann: ann, ctr: ann[ContainerNameKey], getenv: getenv, w: w}
	var s Settings
	s.LogRate = r.value(NameLogRate, parseRate)
	if s.LogRate > 0 {
		s.LogBurst = r.value(NameLogBurst, parseSize)
		s.LogPolicy = Policy(r.value(NameLogPolicy, parsePolicy))
	}
	s.Scrollback = r.value(NameScrollback, parseScrollback)
	return s
}

// resolver walks one setting's sources in precedence order.
type resolver struct {
	ann    map[string]string
	ctr    string
	getenv func(string) string
	w      Warner
}

// value returns the first source of name that parses, or 0.
func (r resolver) value(name string, parse func(string) (int64, error)) int64 {
	for _, src := range r.sources(name) {
		if src.val == "" {
			continue
		}
		v, err := parse(strings.TrimSpace(src.val))
		if err == nil {
			return v
		}
		if errors.Is(err, ErrCapped) {
			r.w.Warnf("settings: %s=%q: %v", src.key, src.val, err)
			return v
		}
		r.w.Warnf("settings: ignoring %s=%q: %v", src.key, src.val, err)
	}
	return 0
}

type source struct{ key, val string }

func (r resolver) sources(name string) []source {
	var out []source
	if r.ctr != "" {
		k := name + "." + Domain + "/" + r.ctr
		out = append(out, source{"annotation " + k, r.ann[k]})
	}
	k := Domain + "/" + name
	out = append(out, source{"annotation " + k, r.ann[k]})
	if r.getenv != nil {
		e := EnvName(name)
		out = append(out, source{e, r.getenv(e)})
	}
	return out
}
