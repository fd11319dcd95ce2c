// Package specref resolves the "§N" references that comments, scripts and
// documents make to docs/interface.md, the engine-facing interface. A bare
// §N anywhere in the repository means a section of that file; its test
// fails when a reference points at a section that does not exist, so the
// spec and the code cannot drift apart unseen (make lint runs it too).
package specref

import (
	"bufio"
	"io"
	"regexp"
)

// headingRe matches the section headings of docs/interface.md:
// "## 10. Container logging", "### 10.5 Reopen", "## 14a. Open points".
var headingRe = regexp.MustCompile(`^#{2,4} +(\d+[a-z]?(?:\.\d+)*)\.? `)

// RefRe matches a reference: §11, §11.1, §14a, "§ 8.2".
var RefRe = regexp.MustCompile(`§ ?(\d+[a-z]?(?:\.\d+)*)`)

// Sections lists the section numbers a document defines.
func Sections(r io.Reader) (map[string]bool, error) {
	secs := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := headingRe.FindStringSubmatch(sc.Text()); m != nil {
			secs[m[1]] = true
		}
	}
	return secs, sc.Err()
}

// Ref is one reference found in a file.
type Ref struct {
	Line    int
	Section string
}

// Refs lists the references in a file's text.
func Refs(r io.Reader) ([]Ref, error) {
	var refs []Ref
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		for _, m := range RefRe.FindAllStringSubmatch(sc.Text(), -1) {
			refs = append(refs, Ref{Line: n, Section: m[1]})
		}
	}
	return refs, sc.Err()
}
