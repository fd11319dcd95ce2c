package settings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shim-project/shim/internal/testutil"
)

type warnings []string

func (w *warnings) Warnf(format string, args ...any) { *w = append(*w, fmt.Sprintf(format, args...)) }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "65536": 65536, "64Ki": 65536, "64KiB": 65536, "64kib": 65536, "1M": 1e6,
		"1Mi": 1 << 20, "2GiB": 2 << 30, "3k": 3000, "5B": 5, "7 Ki": 7 << 10,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Ki", "-1", "1.5M", "1Ti", "1 M B", "99999999999999999999", "1048577Gi", "0x10"} {
		if got, err := parseSize(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("parseSize(%q) = %d, %v; want ErrSyntax", in, got, err)
		}
	}
	if got, err := parseRate("1Mi/s"); err != nil || got != 1<<20 {
		t.Errorf("parseRate(1Mi/s) = %d, %v", got, err)
	}
}

func TestPrecedence(t *testing.T) {
	const ctr = "web"
	perCtr := func(name string) string { return name + "." + Domain + "/" + ctr }
	pod := func(name string) string { return Domain + "/" + name }
	tests := []struct {
		name  string
		ann   map[string]string
		env   func(string) string
		want  Settings
		warns int
	}{
		{"nothing set", nil, env(), Settings{}, 0},
		{"environment default", nil, env("SHIM_LOG_RATE", "1Mi", "SHIM_ATTACH_SCROLLBACK", "64Ki"),
			Settings{LogRate: 1 << 20, Scrollback: 64 << 10}, 0},
		{"pod annotation over environment",
			map[string]string{pod(NameLogRate): "2Mi", pod(NameLogPolicy): "block", pod(NameLogBurst): "4Mi"},
			env("SHIM_LOG_RATE", "1Mi", "SHIM_LOG_RATE_POLICY", "drop"),
			Settings{LogRate: 2 << 20, LogBurst: 4 << 20, LogPolicy: Block}, 0},
		{"container annotation over pod annotation",
			map[string]string{ContainerNameKey: ctr, pod(NameLogRate): "2Mi", perCtr(NameLogRate): "3Mi"},
			env(), Settings{LogRate: 3 << 20}, 0},
		{"another container's annotation is ignored",
			map[string]string{ContainerNameKey: "db", perCtr(NameLogRate): "3Mi"},
			env(), Settings{}, 0},
		{"0 turns off what the environment sets",
			map[string]string{pod(NameLogRate): "0"}, env("SHIM_LOG_RATE", "1Mi"), Settings{}, 0},
		{"invalid annotation: one warning, the environment's default",
			map[string]string{pod(NameLogRate): "fast"}, env("SHIM_LOG_RATE", "1Mi"),
			Settings{LogRate: 1 << 20}, 1},
		{"invalid everywhere: off", map[string]string{pod(NameLogRate): "fast"}, env("SHIM_LOG_RATE", "-3"),
			Settings{}, 2},
		{"invalid policy: drop", map[string]string{pod(NameLogRate): "1k", pod(NameLogPolicy): "maybe"}, env(),
			Settings{LogRate: 1000}, 1},
		{"burst and policy only count with a rate",
			map[string]string{pod(NameLogBurst): "bad", pod(NameLogPolicy): "bad"}, env(), Settings{}, 0},
		{"scrollback above the cap is lowered to it", map[string]string{pod(NameScrollback): "4Mi"}, env(),
			Settings{Scrollback: MaxScrollback}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w warnings
			got := FromAnnotations(tc.ann, tc.env, &w)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(w) != tc.warns {
				t.Errorf("%d warnings, want %d: %q", len(w), tc.warns, w)
			}
		})
	}
}

func writeSpec(t *testing.T, dir string, ann map[string]string) {
	t.Helper()
	spec := &specs.Spec{Version: specs.Version, Process: &specs.Process{Args: []string{"/bin/true"}}, Annotations: ann}
	if err := testutil.WriteSpec(filepath.Join(dir, "config.json"), spec); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFromBundle(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, map[string]string{Domain + "/" + NameLogRate: "512Ki", "other": "x"})
	var w warnings
	if got := Load(dir, env(), &w); got.LogRate != 512<<10 || len(w) != 0 {
		t.Errorf("Load = %+v, warnings %q", got, w)
	}

	// No config.json: the environment alone, silently.
	w = nil
	if got := Load(t.TempDir(), env("SHIM_LOG_RATE", "1k"), &w); got.LogRate != 1000 || len(w) != 0 {
		t.Errorf("Load without config.json = %+v, warnings %q", got, w)
	}

	// Garbage that mentions the domain: one warning, the environment's default.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"annotations": {"`+Domain+`/log-rate": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	w = nil
	if got := Load(bad, env("SHIM_LOG_RATE", "1k"), &w); got.LogRate != 1000 || len(w) != 1 {
		t.Errorf("Load of a broken config.json = %+v, warnings %q", got, w)
	}

	// A symlink at config.json is not followed.
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	writeSpec(t, filepath.Dir(target), map[string]string{Domain + "/" + NameLogRate: "9k"})
	if err := os.Rename(filepath.Join(filepath.Dir(target), "config.json"), target); err != nil {
		t.Fatal(err)
	}
	link := t.TempDir()
	if err := os.Symlink(target, filepath.Join(link, "config.json")); err != nil {
		t.Fatal(err)
	}
	w = nil
	if got := Load(link, env(), &w); got.LogRate != 0 || len(w) != 1 || !strings.Contains(w[0], "config.json") {
		t.Errorf("Load through a symlink = %+v, warnings %q", got, w)
	}
}

// A config.json without the domain is read but not decoded: its content
// may be anything.
func TestLoadSkipsForeignConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("not json at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	var w warnings
	if got := Load(dir, env(), &w); got != (Settings{}) || len(w) != 0 {
		t.Errorf("Load = %+v, warnings %q", got, w)
	}
}

func TestLoadSizeLimit(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxConfigSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var w warnings
	Load(dir, env(), &w)
	if len(w) != 1 || !strings.Contains(w[0], "larger than") {
		t.Errorf("warnings %q", w)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64Ki", "1MiB", "3k", "", "99999999999999999999", "1.5M", "7 gib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("parseSize(%q): error %v is not ErrSyntax", s, err)
			}
			return
		}
		if n < 0 || n > maxSize {
			t.Fatalf("parseSize(%q) = %d, out of [0, %d]", s, n, int64(maxSize))
		}
		// The plain number it gives parses back to itself.
		if back, err := parseSize(fmt.Sprint(n)); err != nil || back != n {
			t.Fatalf("parseSize(%q) = %d, but %d parses to %d, %v", s, n, n, back, err)
		}
	})
}

// TestUnitSuffixes: exactly these suffixes are sizes, each with its value.
func TestUnitSuffixes(t *testing.T) {
	want := map[string]int64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
		"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
		"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	}
	for u, w := range want {
		if got, ok := unit(u); !ok || got != w {
			t.Errorf("unit(%q) = %d, %v; want %d", u, got, ok, w)
		}
	}
	for _, u := range []string{"bb", "kbb", "ib", "i", "t", "ti", "kibb", "mbi", " "} {
		if got, ok := unit(u); ok {
			t.Errorf("unit(%q) = %d, accepted", u, got)
		}
	}
}
