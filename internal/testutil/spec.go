package testutil

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ReadSpec reads an OCI runtime config (a bundle's config.json, or what
// `runc spec` wrote).
func ReadSpec(path string) (*specs.Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return ParseSpec(b)
}

// ParseSpec decodes an OCI runtime config; each call returns a spec of its
// own, so a template parsed once can be edited per bundle.
func ParseSpec(b []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	return &s, nil
}

// WriteSpec writes spec to path (mode 0644 when it creates the file; an
// existing file keeps its owner and mode).
func WriteSpec(path string, spec *specs.Spec) error {
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return fmt.Errorf("encode spec for %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	return nil
}

// EditSpec rewrites the config at path in place with edit applied.
func EditSpec(path string, edit func(*specs.Spec)) error {
	s, err := ReadSpec(path)
	if err != nil {
		return err
	}
	edit(s)
	return WriteSpec(path, s)
}
