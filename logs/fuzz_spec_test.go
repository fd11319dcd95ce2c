package logs

import (
	"strings"
	"testing"
)

// FuzzParseSpec checks -l parsing (§10.1) on arbitrary values against the
// rules TestParseSpec spells out row by row: an empty value (only ':'s) is
// the one "log-path must not be empty"; an unknown driver is reported by
// the first ':'-separated token; an accepted spec has a known kind, a
// k8s-file path that is one of the first two non-empty tokens (so
// non-empty, without ':', and part of the input), no path for the other
// kinds; and it re-parses to itself from its canonical form
// ("k8s-file:<path>" or the driver's name).
func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{"k8s-file:/p", "/p", ":/p", "journald", "journald:anything",
		":journald", "none", "off:x", "null:/x", "passthrough:", "k8s-file", "k8s-file:::", "",
		":::", "foo:/p", "/a:b", "k8s-file:/a:b", "k8s-file::/p", "Journald", "JOURNALD:", "::c",
		":a:b", ":k8s-file:/p", ":none", "k8s-file:\x00\xff", "\n:k8s-file"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseSpec(v)
		tokens := strings.FieldsFunc(v, func(r rune) bool { return r == ':' })
		if err != nil {
			msg := err.Error()
			if got != (Spec{}) {
				t.Fatalf("ParseSpec(%q) = %+v with error %q", v, got, msg)
			}
			empty := msg == "log-path must not be empty"
			if empty != (len(tokens) == 0) {
				t.Fatalf("ParseSpec(%q): %q for tokens %q", v, msg, tokens)
			}
			if name, ok := strings.CutPrefix(msg, "No such log driver "); ok {
				if _, known := driverKind(name); known || len(tokens) == 0 || name != tokens[0] || !strings.Contains(v, ":") {
					t.Fatalf("ParseSpec(%q): %q, tokens %q", v, msg, tokens)
				}
			} else if !empty && msg != "k8s-file requires a filename" {
				t.Fatalf("ParseSpec(%q): unexpected error %q", v, msg)
			}
			return
		}
		if got.Kind.String() == "unknown" {
			t.Fatalf("ParseSpec(%q) = unknown kind %d", v, got.Kind)
		}
		canon := got.Kind.String()
		if got.Kind == K8sFile {
			if got.Path == "" || strings.Contains(got.Path, ":") || !strings.Contains(v, got.Path) {
				t.Fatalf("ParseSpec(%q) = path %q", v, got.Path)
			}
			if got.Path != tokens[0] && (len(tokens) < 2 || got.Path != tokens[1]) {
				t.Fatalf("ParseSpec(%q) = path %q, not one of the first two tokens %q", v, got.Path, tokens)
			}
			canon += ":" + got.Path
		} else if got.Path != "" {
			t.Fatalf("ParseSpec(%q) = %s with path %q", v, got.Kind, got.Path)
		}
		if again, err := ParseSpec(canon); err != nil || again != got {
			t.Fatalf("ParseSpec(%q) = %+v, but its form %q parses to %+v, %v", v, got, canon, again, err)
		}
	})
}
