package logs

import "testing"

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		err  string
	}{
		// §10.1 table, row by row.
		{in: "k8s-file:/p", want: Spec{Kind: K8sFile, Path: "/p"}},
		{in: "/p", want: Spec{Kind: K8sFile, Path: "/p"}},
		{in: ":/p", want: Spec{Kind: K8sFile, Path: "/p"}},
		{in: "journald", want: Spec{Kind: Journald}},
		{in: "journald:", want: Spec{Kind: Journald}},
		{in: "journald:anything", want: Spec{Kind: Journald}},
		{in: ":journald", want: Spec{Kind: K8sFile, Path: "journald"}},
		{in: "none", want: Spec{Kind: None}},
		{in: "off", want: Spec{Kind: None}},
		{in: "null", want: Spec{Kind: None}},
		{in: "none:", want: Spec{Kind: None}},
		{in: "off:x", want: Spec{Kind: None}},
		{in: "null:/x", want: Spec{Kind: None}},
		{in: "passthrough", want: Spec{Kind: Passthrough}},
		{in: "passthrough:", want: Spec{Kind: Passthrough}},
		{in: "k8s-file", err: "k8s-file requires a filename"},
		{in: "k8s-file:", err: "k8s-file requires a filename"},
		{in: "k8s-file:::", err: "k8s-file requires a filename"},
		{in: "", err: "log-path must not be empty"},
		{in: ":", err: "log-path must not be empty"},
		{in: ":::", err: "log-path must not be empty"},
		{in: "foo:/p", err: "No such log driver foo"},
		{in: "foo:", err: "No such log driver foo"},
		{in: "/a:b", err: "No such log driver /a"},
		{in: "passthrough:anything", want: Spec{Kind: Passthrough}},
		{in: "none:/x", want: Spec{Kind: None}},
		// strtok truncation and skipped empty fields.
		{in: "k8s-file:/a:b", want: Spec{Kind: K8sFile, Path: "/a"}},
		{in: "k8s-file::/p", want: Spec{Kind: K8sFile, Path: "/p"}},
		// Bare words other than driver names are (relative) paths.
		{in: "ctr.log", want: Spec{Kind: K8sFile, Path: "ctr.log"}},
		{in: "foo", want: Spec{Kind: K8sFile, Path: "foo"}},
		// Case-sensitive matching.
		{in: "Journald", want: Spec{Kind: K8sFile, Path: "Journald"}},
		{in: "JOURNALD:", err: "No such log driver JOURNALD"},
		// Leading ':' behaviour checked against conmon 2.1.6.
		{in: "::c", want: Spec{Kind: K8sFile, Path: "c"}},
		{in: ":a:b", err: "No such log driver a"},
		{in: ":k8s-file:/p", want: Spec{Kind: K8sFile, Path: "/p"}},
		{in: ":none", want: Spec{Kind: K8sFile, Path: "none"}},
	}
	for _, tc := range tests {
		got, err := ParseSpec(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseSpec(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestCombine(t *testing.T) {
	var specs []Spec
	for _, v := range []string{"k8s-file:/first", "journald", "none", "/second"} {
		s, err := ParseSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	got := Combine(specs)
	want := Drivers{K8sFile: true, Path: "/second", Journald: true}
	if got != want {
		t.Fatalf("Combine = %+v, want %+v (last k8s-file path wins)", got, want)
	}
	if d := Combine([]Spec{{Kind: None}, {Kind: Passthrough}}); d != (Drivers{Passthrough: true}) {
		t.Fatalf("Combine(none, passthrough) = %+v", d)
	}
}
