package diag

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDiagStderrPrefixesAndLevels(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  string
	}{
		{"error", "[conmon:e]: e 1\n"},
		{"warning", "[conmon:e]: e 1\n[conmon:w]: w 2\n"},
		{"WARN", "[conmon:e]: e 1\n[conmon:w]: w 2\n"},
		{"info", "[conmon:e]: e 1\n[conmon:w]: w 2\n[conmon:i]: i 3\n"},
		{"debug", "[conmon:e]: e 1\n[conmon:w]: w 2\n[conmon:i]: i 3\n[conmon:d]: d 4\n"},
		{"trace", "[conmon:e]: e 1\n[conmon:w]: w 2\n[conmon:i]: i 3\n[conmon:d]: d 4\n[conmon:d]: t 5\n"},
	} {
		d := New(Options{LogLevel: tc.level, Cid: "c"})
		var buf bytes.Buffer
		d.w = &buf
		d.Errorf("e %d", 1)
		d.Warnf("w %d", 2)
		d.Infof("i %d", 3)
		d.Debugf("d %d", 4)
		d.Tracef("t %d", 5)
		if buf.String() != tc.want {
			t.Errorf("--log-level %s: stderr\n%q\nwant\n%q", tc.level, buf.String(), tc.want)
		}
	}
}

// With --syslog the same entries, level-filtered, reach the syslog socket in
// conmon's text form (§12.3).
func TestDiagSyslog(t *testing.T) {
	l := fakeSyslog(t)

	cid := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		cfg  Options
		id   string
		want []string
	}{
		{Options{Cid: cid, LogLevel: "info", Syslog: true}, "0123456789abcdef0123",
			[]string{"<11>|<error>: e", "<14>|<nwarn>: w", "<14>|<ninfo>: i"}},
		{Options{Cid: "short", LogTag: "tagged", LogTagSet: true, LogLevel: "trace", Syslog: true}, "short: tagged",
			[]string{"<11>|<error>: e", "<14>|<nwarn>: w", "<14>|<ninfo>: i", "<14>|<ndebug>: d", "<14>|<ntrace>: t"}},
		{Options{Cid: "abcdefghijklmnopq", LogTag: "tagged", LogTagSet: true, Syslog: true}, "abcdefghijklmnopq: t",
			[]string{"<11>|<error>: e", "<14>|<nwarn>: w"}},
	} {
		d := New(tc.cfg)
		d.w = &bytes.Buffer{}
		d.Errorf("e")
		d.Warnf("w")
		d.Infof("i")
		d.Debugf("d")
		d.Tracef("t")
		d.Errorf("end") // marks the end of this case's records
		var got []string
		for {
			buf := make([]byte, 4096)
			l.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := l.Read(buf)
			if err != nil {
				t.Fatalf("%+v: reading syslog: %v (got %q so far)", tc.cfg, err, got)
			}
			m := regexp.MustCompile(`^(<\d+>)[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^:]+): conmon (.*) (<[a-z]+>: .*)$`).FindStringSubmatch(string(buf[:n]))
			if m == nil {
				t.Fatalf("%+v: record %q not in conmon's syslog form", tc.cfg, buf[:n])
			}
			if m[3] != tc.id {
				t.Errorf("%+v: id %q, want %q", tc.cfg, m[3], tc.id)
			}
			if m[2] != filepath.Base(os.Args[0]) {
				t.Errorf("record tag %q, want the program name", m[2])
			}
			if m[4] == "<error>: end" {
				break
			}
			got = append(got, m[1]+"|"+m[4])
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%+v: syslog records\n%s\nwant\n%s", tc.cfg, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// Without --syslog nothing is sent even when a socket is there: the first
// record the socket sees is the one a --syslog diag sends afterwards.
func TestDiagNoSyslogByDefault(t *testing.T) {
	l := fakeSyslog(t)
	quiet := New(Options{Cid: "c"})
	quiet.w = &bytes.Buffer{}
	quiet.Errorf("not for syslog")
	loud := New(Options{Cid: "c", Syslog: true})
	loud.w = &bytes.Buffer{}
	loud.Errorf("marker")
	buf := make([]byte, 4096)
	l.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := l.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(buf[:n]), "conmon c <error>: marker") {
		t.Fatalf("first syslog record %q, want the marker", buf[:n])
	}
}

// fakeSyslog listens on a datagram socket in a temp dir and points --syslog
// at it.
func fakeSyslog(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	t.Setenv(syslogPathEnv, path)
	return l
}

// TestDiagCoreBuiltAtFirstMessage: a logger whose level filters everything
// logged so far has built nothing (the encoder would sit in an idle
// monitor's heap); the first message that passes builds it and is written.
func TestDiagCoreBuiltAtFirstMessage(t *testing.T) {
	var buf bytes.Buffer
	d := New(Options{LogLevel: "error"})
	d.SetStderr(&buf)
	d.Warnf("filtered %d", 1)
	d.Debugf("filtered %d", 2)
	if d.core != nil || buf.Len() != 0 {
		t.Fatalf("core built (%v) or output %q before any message passed the level", d.core != nil, buf.String())
	}
	d.Errorf("shown %d", 3)
	if d.core == nil || !strings.Contains(buf.String(), "shown 3") {
		t.Fatalf("after Errorf: core built %v, output %q", d.core != nil, buf.String())
	}
}
