package integration

// Bundles' config.json and runc exec's process.json, written from the
// runtime-spec types, starting from the `runc spec` template (specJSON).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shim-project/shim/internal/testutil"
)

// baseSpec returns a fresh copy of the `runc spec` template.
func baseSpec(t *testing.T) *specs.Spec {
	t.Helper()
	s, err := testutil.ParseSpec(specJSON)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeConfig writes bundle/config.json from the template: the container
// runs o.Args without a terminal on the shared read-only rootfs.
func writeConfig(t *testing.T, bundle string, o monOpts) {
	t.Helper()
	s := baseSpec(t)
	s.Process.Args = o.Args
	s.Process.Terminal = false
	s.Root = &specs.Root{Path: rootfs, Readonly: true}
	s.Annotations = o.Annotations
	if o.NoPidNS {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.PIDNamespace
		})
	}
	if err := testutil.WriteSpec(filepath.Join(bundle, "config.json"), s); err != nil {
		t.Fatal(err)
	}
}

// patchConfig edits bundle/config.json in place (owner and mode stay).
func patchConfig(t *testing.T, bundle string, edit func(*specs.Spec)) {
	t.Helper()
	if err := testutil.EditSpec(filepath.Join(bundle, "config.json"), edit); err != nil {
		t.Fatal(err)
	}
}

// writeProcessSpec writes a process.json for `runc exec --process`, based on
// the template's process.
func writeProcessSpec(t *testing.T, path string, args []string, tty bool) {
	t.Helper()
	proc := baseSpec(t).Process
	proc.Args = args
	proc.Terminal = tty
	b, err := json.Marshal(proc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
