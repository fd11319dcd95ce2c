package specref

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../.."

// TestReferencesResolve walks the repository: every §N in Go code, scripts,
// the Makefile and the docs must name a section of docs/interface.md.
func TestReferencesResolve(t *testing.T) {
	f, err := os.Open(filepath.Join(root, "docs", "interface.md"))
	if err != nil {
		t.Fatalf("open the spec: %v", err)
	}
	defer f.Close()
	secs, err := Sections(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) < 40 {
		t.Fatalf("docs/interface.md defines only %d sections: headings not recognised?", len(secs))
	}
	checked := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") && name != ".ci" || name == "bin" || name == "build" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, ".sh") &&
			!strings.HasSuffix(name, ".md") && name != "Makefile" && name != "run" {
			return nil
		}
		rf, err := os.Open(p)
		if err != nil {
			return err
		}
		defer rf.Close()
		refs, err := Refs(rf)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, r := range refs {
			checked++
			if !secs[r.Section] {
				t.Errorf("%s:%d: §%s is not a section of docs/interface.md", rel, r.Line, r.Section)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d references found: is the walk reading the repository?", checked)
	}
	t.Logf("%d references resolve", checked)
}

func TestSectionsAndRefs(t *testing.T) {
	doc := "# Title\n## 1. Command line\n### 1.1 Parser\n## 14a. Open\n### 10.5 Reopen (ctl type 2)\n#### not a section\n"
	secs, err := Sections(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1", "1.1", "14a", "10.5"} {
		if !secs[want] {
			t.Errorf("section %s not found in %v", want, secs)
		}
	}
	if len(secs) != 4 {
		t.Errorf("sections = %v, want 4", secs)
	}
	refs, err := Refs(strings.NewReader("see §1.3 row p and § 8.2,\n(§14a) §11.\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.Section)
	}
	if strings.Join(got, " ") != "1.3 8.2 14a 11" {
		t.Errorf("refs = %q", got)
	}
	if refs[3].Line != 2 {
		t.Errorf("line of §11 = %d, want 2", refs[3].Line)
	}
}
