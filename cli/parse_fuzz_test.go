package cli

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds command lines (the input split at NUL bytes, which argv
// cannot hold) to Parse. It must not panic or change args, must give the
// same result twice, must ignore a leading stray word, and an accepted line
// must parse to the same options after "-- --bogus" is appended and after
// every "--opt=value" is rewritten as "--opt value".
func FuzzParse(f *testing.F) {
	for _, c := range parseOKCases() {
		f.Add([]byte(strings.Join(c.args, "\x00")))
	}
	for _, args := range [][]string{
		{"--bogus"}, {"-x"}, {"--cid"}, {"-c"}, {"-cb", "x"}, {"-T", "0x"}, {"-T", "2147483648"},
		{"--log-size-max", "9223372036854775808"}, {"--help=1"}, {"-ih", "-c"}, {"--flag=-c"},
		{"--stdin=-c", "x"}, {"--stdin=x", "-c", "y"}, {"--cid=-T", "--runtime-arg=--x=y"},
		{"-l", "--log-path=a", "--exit-command-arg=", "--timeout= 010", "--", "--cid=z"},
	} {
		f.Add([]byte(strings.Join(args, "\x00")))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var args []string
		if len(line) > 0 {
			args = strings.Split(string(line), "\x00")
		}
		orig := slices.Clone(args)
		cfg, err := Parse(args)
		if !slices.Equal(args, orig) {
			t.Fatalf("Parse changed its arguments: %q -> %q", orig, args)
		}
		var oe *optionError
		if (err == nil) == (cfg == nil) || (err != nil && !errors.As(err, &oe)) {
			t.Fatalf("Parse(%q) = %v, %#v", args, cfg, err)
		}
		same := func(what string, other []string) {
			t.Helper()
			c, e := Parse(other)
			if !reflect.DeepEqual(c, cfg) || !reflect.DeepEqual(e, err) {
				t.Fatalf("%s: Parse(%q) = %+v, %v\nbut Parse(%q) = %+v, %v", what, args, cfg, err, other, c, e)
			}
		}
		same("again", args)
		same("leading stray word", append([]string{"stray"}, args...))
		if err != nil || cfg.Help {
			return // help stops at a word the rewrites below do not track
		}
		same("-- appended", append(slices.Clone(args), "--", "--bogus"))
		same("--opt=value split", splitEquals(args))
	})
}

// splitEquals rewrites each option word "--opt=value" of an accepted line
// as "--opt", "value". A value-taking option always takes the next word as
// its value (even "-x"), so that is the same line; a flag ignores its value,
// which becomes a stray word unless it starts with '-', when it is kept
// attached. It walks the words as Parse does, so values that look like
// options and words after "--" are left alone.
func splitEquals(args []string) []string {
	opts := optionTable()
	takesValue := func(match func(*option) bool) (bool, bool) {
		for k := range opts {
			if match(&opts[k]) {
				return opts[k].kind != argFlag, true
			}
		}
		return false, false
	}
	var out []string
	for i := 0; i < len(args); i++ {
		w := args[i]
		out = append(out, w)
		if len(w) < 2 || w[0] != '-' {
			continue
		}
		if w == "--" {
			return append(out, args[i+1:]...)
		}
		if w[1] == '-' {
			name, value, hasValue := strings.Cut(w[2:], "=")
			takes, _ := takesValue(func(o *option) bool { return o.long == name })
			switch {
			case hasValue && (takes || !strings.HasPrefix(value, "-")):
				out[len(out)-1] = "--" + name
				out = append(out, value)
			case !hasValue && takes:
				i++
				out = append(out, args[i])
			}
			continue
		}
		// A short cluster takes the next word when one letter takes a value
		// (an accepted line has at most one, and the word).
		for _, c := range []byte(w[1:]) {
			if takes, _ := takesValue(func(o *option) bool { return o.short == c }); takes {
				i++
				out = append(out, args[i])
				break
			}
		}
	}
	return out
}

// TestSplitEquals pins the rewrite FuzzParse relies on.
func TestSplitEquals(t *testing.T) {
	in := []string{"--cid=a=b", "--stdin=x", "--stdin=-c", "--runtime-arg", "--log=1", "-ic", "--timeout=5",
		"--exit-command-arg=", "--timeout=-1", "stray", "--", "--cid=z"}
	want := []string{"--cid", "a=b", "--stdin", "x", "--stdin=-c", "--runtime-arg", "--log=1", "-ic", "--timeout=5",
		"--exit-command-arg", "", "--timeout", "-1", "stray", "--", "--cid=z"}
	if got := splitEquals(in); !slices.Equal(got, want) {
		t.Errorf("splitEquals(%q)\n got %q\nwant %q", in, got, want)
	}
	if got := splitEquals(nil); len(got) != 0 {
		t.Errorf("splitEquals(nil) = %q", got)
	}
}
