package integration

// The binary's command line as engines probe and use it (§1, §2).

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCLIVersion(t *testing.T) {
	setup(t)
	out, _, code := runCmd(t, 10*time.Second, nil, shimBin, "--version")
	if code != 0 {
		t.Fatalf("--version exited %d", code)
	}
	// podman's probe: ^(version:|conmon version)? (\d+).(\d+).(\d+), ≥ 2.0.1;
	// CRI-O: third word strict semver.
	if !regexp.MustCompile(`^conmon version \d+\.\d+\.\d+(-\S+)?\ncommit: \S+\n$`).MatchString(out) {
		t.Fatalf("--version printed %q, want \"conmon version X.Y.Z\\ncommit: SHA\\n\"", out)
	}
}

func TestCLIHelp(t *testing.T) {
	setup(t)
	out, _, code := runCmd(t, 10*time.Second, nil, shimBin, "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, s := range []string{"--log-global-size-max", "--exec", "--api-version", "--conmon-pidfile", "--full-attach"} {
		if !strings.Contains(out, s) {
			t.Errorf("--help does not mention %s", s)
		}
	}
	t.Run("journald", func(t *testing.T) {
		headOnly(t, "HEAD's help names journald (--no-container-partial-message)")
		if !strings.Contains(out, "journald") {
			t.Error("--help does not contain the word journald")
		}
	})
}

func TestCLIErrors(t *testing.T) {
	setup(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing_cid", []string{"-u", "x", "-r", runcBin, "-l", "none"}, "Container ID not provided. Use --cid"},
		{"bad_runtime", []string{"-c", "x", "-u", "x", "-r", "/nonexistent/runc", "-l", "none"}, "Runtime path /nonexistent/runc is not valid"},
		{"bad_log_driver", []string{"-c", "x", "-u", "x", "-r", runcBin, "-l", "bogus:/x"}, "No such log driver bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCmd(t, 10*time.Second, nil, shimBin, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and %q on stderr", code, errOut, tc.want)
			}
		})
	}
	t.Run("unknown_option", func(t *testing.T) {
		out, errOut, code := runCmd(t, 10*time.Second, nil, shimBin, "--bogus")
		const want = "conmon: option parsing failed: Unknown option --bogus"
		if code != 1 || !strings.Contains(out+errOut, want) {
			t.Fatalf("exit %d, output %q; want exit 1 and %q", code, out+errOut, want)
		}
		headOnly(t, "2.1.6 prints option parsing errors on stdout, HEAD on stderr")
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr %q, want %q on stderr", errOut, want)
		}
	})
}
