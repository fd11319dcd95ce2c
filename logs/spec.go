// Package logs writes container output to the log drivers conmon offers:
// k8s-file (CRI log format with size limits, truncation and rotation),
// journald (native journal protocol), passthrough and none (§10).
package logs

import (
	"errors"
	"strings"
)

// Kind is a log driver.
type Kind int

const (
	// None discards output ("none", "off", "null").
	None Kind = iota
	// K8sFile writes the CRI log format to Spec.Path.
	K8sFile
	// Journald sends entries to systemd-journald.
	Journald
	// Passthrough hands the monitor's own stdio to the container.
	Passthrough
)

func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case K8sFile:
		return "k8s-file"
	case Journald:
		return "journald"
	case Passthrough:
		return "passthrough"
	}
	return "unknown"
}

// Spec is one parsed -l/--log-path value.
type Spec struct {
	Kind Kind
	Path string // only for K8sFile
}

// ParseSpec parses one -l value exactly as conmon does (§10.1): the value is
// split at ':' the way C strtok does it (empty fields skipped, only the first
// two tokens looked at), so paths containing ':' are truncated. The error
// texts are conmon's, without the "[conmon:e]: " prefix.
func ParseSpec(v string) (Spec, error) {
	colon := strings.IndexByte(v, ':')
	driver, rest := strtok(v)
	path, _ := strtok(rest)

	if driver == "" {
		return Spec{}, errors.New("log-path must not be empty")
	}
	// A leading ':' means "no driver": the first token is a file name. conmon
	// tests this only when there is no second token, so ":a:b" still names
	// a driver "a" (checked against 2.1.6).
	if path == "" && colon == 0 {
		return Spec{Kind: K8sFile, Path: driver}, nil
	}
	// Without any colon a word is a driver name when it is one, otherwise a
	// file name (CRI-O passes a bare path).
	if colon < 0 {
		if k, ok := driverKind(driver); ok {
			if k == K8sFile {
				return Spec{}, errors.New("k8s-file requires a filename")
			}
			return Spec{Kind: k}, nil
		}
		return Spec{Kind: K8sFile, Path: driver}, nil
	}
	k, ok := driverKind(driver)
	if !ok {
		return Spec{}, errors.New("No such log driver " + driver)
	}
	if k != K8sFile {
		return Spec{Kind: k}, nil // anything after the ':' is ignored
	}
	if path == "" {
		return Spec{}, errors.New("k8s-file requires a filename")
	}
	return Spec{Kind: K8sFile, Path: path}, nil
}

// strtok returns the first non-empty ':'-separated token of s and what
// follows the delimiter that ended it.
func strtok(s string) (tok, rest string) {
	s = strings.TrimLeft(s, ":")
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func driverKind(name string) (Kind, bool) {
	switch name {
	case "none", "off", "null":
		return None, true
	case "k8s-file":
		return K8sFile, true
	case "journald":
		return Journald, true
	case "passthrough":
		return Passthrough, true
	}
	return None, false
}

// Drivers is what a list of specs amounts to: conmon keeps one flag per
// driver and a single k8s-file path, so with several k8s-file values the
// last path wins.
type Drivers struct {
	K8sFile     bool
	Path        string
	Journald    bool
	Passthrough bool
}

// Combine folds parsed specs in command-line order.
func Combine(specs []Spec) Drivers {
	var d Drivers
	for _, s := range specs {
		switch s.Kind {
		case K8sFile:
			d.K8sFile, d.Path = true, s.Path
		case Journald:
			d.Journald = true
		case Passthrough:
			d.Passthrough = true
		}
	}
	return d
}
