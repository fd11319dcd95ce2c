package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runtimes makes real files for row j in a temp dir: an executable, a file
// without x bits, a directory, a symlink loop.
type runtimes struct{ ok, noExec, dir, loop string }

func makeRuntimes(t *testing.T) runtimes {
	t.Helper()
	d := t.TempDir()
	r := runtimes{ok: d + "/rt", noExec: d + "/plain", dir: d, loop: d + "/loop"}
	if err := os.WriteFile(r.ok, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.noExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(r.loop, r.loop); err != nil {
		t.Fatal(err)
	}
	return r
}

type earlyCase struct {
	name string
	args []string
	want string // whole stderr line; "" = passes
}

func earlyCases(r runtimes) []earlyCase {
	base := []string{"-c", "ctr", "-u", "uuid", "-r", r.ok, "-l", "none"}
	with := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	long := strings.Repeat("n", 300)
	var levels []earlyCase
	for _, l := range []string{"error", "fatal", "panic", "warn", "warning", "info", "debug", "trace", "TRACE"} {
		levels = append(levels, earlyCase{"d level " + l, with("--log-level", l), ""})
	}
	return append(levels, []earlyCase{
		{"c1 negative max files before cid", []string{"--log-max-files", "-1"}, "conmon: log-max-files must be non-negative, got -1"},
		{"c1 also with rotate", []string{"--log-rotate", "--log-max-files", "-5"}, "conmon: log-max-files must be non-negative, got -5"},
		{"c2 rotate with 0", []string{"--log-rotate", "--log-max-files", "0"}, "conmon: log-max-files must be at least 1 when log-rotate is enabled, got 0"},
		{"0 without rotate accepted", with("--log-max-files", "0"), ""},
		{"c3 no cid", []string{"--log-level", "bogus"}, "conmon: Container ID not provided. Use --cid"},
		{"empty cid is given", []string{"-c", "", "--log-level", "bogus"}, "[conmon:e]: No such log level bogus"},
		{"d bad level before e", []string{"-c", "x", "--log-level", "bogus", "-e", "--restore", "y"}, "[conmon:e]: No such log level bogus"},
		{"d empty level", []string{"-c", "x", "--log-level", ""}, "[conmon:e]: No such log level "},
		{"d levels are case-insensitive", with("--log-level", "DeBuG"), ""},
		{"e exec and restore", []string{"-c", "x", "-e", "--restore", "y"}, "[conmon:e]: Cannot use 'exec' and 'restore' at the same time"},
		{"e empty restore is given", []string{"-c", "x", "-e", "--restore", ""}, "[conmon:e]: Cannot use 'exec' and 'restore' at the same time"},
		{"f attach without exec", []string{"-c", "x", "--exec-attach"}, "[conmon:e]: Attach can only be specified with exec"},
		{"g attach without api", []string{"-c", "x", "-e", "--exec-attach"}, "[conmon:e]: Attach can only be specified for a non-legacy exec session"},
		{"h no cuuid", []string{"-c", "x"}, "[conmon:e]: Container UUID not provided. Use --cuuid"},
		{"h api exec needs cuuid", []string{"-c", "x", "-e", "--api-version"}, "[conmon:e]: Container UUID not provided. Use --cuuid"},
		{"h legacy exec needs none", []string{"-c", "x", "-e"}, "[conmon:e]: Runtime path not provided. Use --runtime"},
		{"i no runtime", []string{"-c", "x", "-u", "y"}, "[conmon:e]: Runtime path not provided. Use --runtime"},
		{"j missing", []string{"-c", "x", "-u", "y", "-r", r.dir + "/nope"}, "[conmon:e]: Runtime path " + r.dir + "/nope is not valid No such file or directory"},
		{"j empty", []string{"-c", "x", "-u", "y", "-r", ""}, "[conmon:e]: Runtime path  is not valid No such file or directory"},
		{"j not executable", []string{"-c", "x", "-u", "y", "-r", r.noExec}, "[conmon:e]: Runtime path " + r.noExec + " is not valid Permission denied"},
		{"j through a file", []string{"-c", "x", "-u", "y", "-r", r.ok + "/x"}, "[conmon:e]: Runtime path " + r.ok + "/x is not valid Not a directory"},
		{"j loop", []string{"-c", "x", "-u", "y", "-r", r.loop}, "[conmon:e]: Runtime path " + r.loop + " is not valid Too many levels of symbolic links"},
		{"j name too long", []string{"-c", "x", "-u", "y", "-r", r.dir + "/" + long}, "[conmon:e]: Runtime path " + r.dir + "/" + long + " is not valid File name too long"},
		{"j directory passes", []string{"-c", "x", "-u", "y", "-r", r.dir}, "[conmon:e]: Log driver not provided. Use --log-path"},
		{"k exec without spec", []string{"-c", "x", "-e", "-r", r.ok}, "[conmon:e]: Exec process spec path not provided. Use --exec-process-spec"},
		{"k empty spec is given", []string{"-c", "x", "-e", "-r", r.ok, "--exec-process-spec", ""}, "[conmon:e]: Log driver not provided. Use --log-path"},
		{"m negative delay", []string{"-c", "x", "-u", "y", "-r", r.ok, "--exit-delay", "-1"}, "[conmon:e]: Delay before invoking exit command must be greater than or equal to 0"},
		{"n no log path", []string{"-c", "x", "-u", "y", "-r", r.ok, "--exit-delay", "0"}, "[conmon:e]: Log driver not provided. Use --log-path"},
		{"valid create", base, ""},
		{"valid legacy exec", []string{"-c", "x", "-e", "-r", r.ok, "--exec-process-spec", "p", "-l", "none"}, ""},
	}...)
}

func TestValidateEarly(t *testing.T) {
	for _, tc := range earlyCases(makeRuntimes(t)) {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := ValidateEarly(cfg); err != nil {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("error %v is %T, want *usageError", err, err)
				}
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("ValidateEarly(%q)\n got %q\nwant %q", tc.args, got, tc.want)
			}
		})
	}
}

func TestValidateEarlyDefaults(t *testing.T) {
	r := makeRuntimes(t)
	cwd := t.TempDir()
	t.Chdir(cwd)
	cases := []struct {
		args              []string
		bundle, pidfile   string
		bundleSet, pidSet bool
	}{
		{[]string{"-c", "ctr", "-u", "u", "-r", r.ok, "-l", "none"}, cwd, cwd + "/pidfile-ctr", false, false},
		{[]string{"-c", "", "-u", "u", "-r", r.ok, "-l", "none"}, cwd, cwd + "/pidfile-", false, false},
		{[]string{"-c", "ctr", "-u", "u", "-r", r.ok, "-l", "none", "-b", "/b", "-p", "/p"}, "/b", "/p", true, true},
		{[]string{"-c", "ctr", "-u", "u", "-r", r.ok, "-l", "none", "-b", "", "--pidfile", ""}, "", "", true, true},
		{[]string{"-c", "ctr", "-e", "-r", r.ok, "--exec-process-spec", "s", "-l", "none"}, "", cwd + "/pidfile-ctr", false, false},
	}
	for _, tc := range cases {
		cfg, err := Parse(tc.args)
		if err == nil {
			err = ValidateEarly(cfg)
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if cfg.Cwd != cwd || cfg.Bundle != tc.bundle || cfg.ContainerPidfile != tc.pidfile ||
			cfg.BundleSet != tc.bundleSet || cfg.ContainerPidfileSet != tc.pidSet {
			t.Errorf("%q: cwd %q bundle %q (%v) pidfile %q (%v)", tc.args, cfg.Cwd,
				cfg.Bundle, cfg.BundleSet, cfg.ContainerPidfile, cfg.ContainerPidfileSet)
		}
	}
}

// TestValidateEarlyNoCwd is row l: the working directory was removed, so
// getcwd(2) fails (os.Getwd could still answer from $PWD).
func TestValidateEarlyNoCwd(t *testing.T) {
	r := makeRuntimes(t)
	gone := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(gone)
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]string{"-c", "x", "-u", "y", "-r", r.ok, "--exit-delay", "-1"})
	if err != nil {
		t.Fatal(err)
	}
	err = ValidateEarly(cfg)
	if err == nil || err.Error() != "[conmon:e]: Failed to get working directory" {
		t.Errorf("ValidateEarly in a removed directory: %v", err)
	}
}

func TestValidateDrivers(t *testing.T) {
	const long = "0123456789abc" // 13 characters
	cases := []struct {
		name         string
		args         []string
		k8s, journal bool
		want         string
	}{
		{"q tag with k8s-file", []string{"-c", long, "--log-tag", "t"}, true, false, "[conmon:e]: k8s-file doesn't support --log-tag"},
		{"q empty tag counts", []string{"-c", long, "--log-tag", ""}, true, false, "[conmon:e]: k8s-file doesn't support --log-tag"},
		{"q tag checked before label", []string{"-c", long, "--log-label", "A=1", "--log-tag", "t"}, true, false, "[conmon:e]: k8s-file doesn't support --log-tag"},
		{"q label with k8s-file", []string{"-c", long, "--log-label", "A=1"}, true, false, "[conmon:e]: k8s-file doesn't support --log-label"},
		{"q empty label counts", []string{"-c", long, "--log-label", ""}, true, false, "[conmon:e]: k8s-file doesn't support --log-label"},
		{"q not with journald too", []string{"-c", long, "--log-tag", "t", "--log-label", "A=1"}, true, true, ""},
		{"k8s-file alone is fine", []string{"-c", "x"}, true, false, ""},
		{"labels ignored without journald", []string{"-c", "x", "--log-tag", "t", "--log-label", "=bad"}, false, false, ""},
		{"r short cid", []string{"-c", "123456789012"}, false, true, "[conmon:e]: Container ID must be longer than 12 characters"},
		{"r empty cid", []string{"-c", ""}, true, true, "[conmon:e]: Container ID must be longer than 12 characters"},
		{"r before s", []string{"-c", "x", "--log-label", "=bad"}, false, true, "[conmon:e]: Container ID must be longer than 12 characters"},
		{"r 13 is enough", []string{"-c", long}, false, true, ""},
		{"s no label name", []string{"-c", long, "--log-label", "=x"}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (no LABEL present in '=x')"},
		{"s lone =", []string{"-c", long, "--log-label", "="}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (no LABEL present in '=')"},
		{"s leading = wins over count", []string{"-c", long, "--log-label", "=a=b"}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (no LABEL present in '=a=b')"},
		{"s no =", []string{"-c", long, "--log-label", "A"}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (none or more than one '=' present in 'A')"},
		{"s empty label", []string{"-c", long, "--log-label", ""}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (none or more than one '=' present in '')"},
		{"s two =", []string{"-c", long, "--log-label", "A=B=C"}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (none or more than one '=' present in 'A=B=C')"},
		{"s count wins over name", []string{"-c", long, "--log-label", "a=b=c"}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (none or more than one '=' present in 'a=b=c')"},
		{"s lower case name", []string{"-c", long, "--log-label", "a=b"}, false, true, "[conmon:e]: Container label names must contain only uppercase letters, numbers and underscore (in 'a=b')"},
		{"s dash in name", []string{"-c", long, "--log-label", "A-B=c"}, false, true, "[conmon:e]: Container label names must contain only uppercase letters, numbers and underscore (in 'A-B=c')"},
		{"s non-ASCII name", []string{"-c", long, "--log-label", "\u00c4=c"}, false, true, "[conmon:e]: Container label names must contain only uppercase letters, numbers and underscore (in '\u00c4=c')"},
		{"s first bad label reported", []string{"-c", long, "--log-label", "A=1", "--log-label", "b=2", "--log-label", "=3"}, false, true, "[conmon:e]: Container label names must contain only uppercase letters, numbers and underscore (in 'b=2')"},
		{"s = in the value counts", []string{"-c", long, "--log-label", "1A_Z9=any thing=", "--log-label", "B="}, false, true, "[conmon:e]: Container labels must be in format LABEL=VALUE (none or more than one '=' present in '1A_Z9=any thing=')"},
		{"s valid labels", []string{"-c", long, "--log-label", "1A_Z9=any thing: ok", "--log-label", "B="}, false, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if err := ValidateDrivers(cfg, tc.k8s, tc.journal); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestNoPartialWarning(t *testing.T) {
	const msg = "[conmon:w]: --no-container-partial-message has no effect without journald log driver"
	cases := []struct {
		args    []string
		journal bool
		want    string
	}{
		{[]string{"--no-container-partial-message"}, false, msg},
		{[]string{"--no-container-partial-message", "--log-level", "warning"}, false, msg},
		{[]string{"--no-container-partial-message", "--log-level", "DEBUG"}, false, msg},
		{[]string{"--no-container-partial-message", "--log-level", "error"}, false, ""},
		{[]string{"--no-container-partial-message"}, true, ""},
		{nil, false, ""},
	}
	for _, tc := range cases {
		cfg, _ := Parse(tc.args)
		if got := NoPartialWarning(cfg, tc.journal); got != tc.want {
			t.Errorf("%q journald=%v: %q, want %q", tc.args, tc.journal, got, tc.want)
		}
	}
}

func TestUsageErrorParts(t *testing.T) {
	var ue *usageError
	if err := logErrorf("No such log level %s", "x"); !errors.As(err, &ue) || err.Error() != "[conmon:e]: No such log level x" {
		t.Errorf("logErrorf: %#v", err)
	}
	if err := plainErrorf("Container ID not provided. Use --cid"); !errors.As(err, &ue) || err.Error() != "conmon: Container ID not provided. Use --cid" {
		t.Errorf("plainErrorf: %#v", err)
	}
}

// TestValidateMatchesConmon216 runs the failing early cases through the
// reference. None of them passes -l, so conmon stops at row n at the latest
// and can never fork. 2.1.6 prints fixed messages with "[conmon:e] " where
// HEAD (our target) has "[conmon:e]: ", and knows no log-max-files.
func TestValidateMatchesConmon216(t *testing.T) {
	needConmon(t)
	cwd := t.TempDir()
	for _, tc := range earlyCases(makeRuntimes(t)) {
		if tc.want == "" || usesHeadOnly(tc.args) || givesLogPath(tc.args) {
			continue
		}
		out, rc := runConmon(t, cwd, tc.args...)
		out = strings.Replace(out, "[conmon:e] ", "[conmon:e]: ", 1)
		if out != tc.want+"\n" || rc != 1 {
			t.Errorf("%s: conmon 2.1.6 %q (exit %d), want %q", tc.name, out, rc, tc.want)
		}
	}
}

func givesLogPath(args []string) bool {
	for _, a := range args {
		if a == "-l" || strings.HasPrefix(a, "--log-path") {
			return true
		}
	}
	return false
}
