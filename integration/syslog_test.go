package integration

// --syslog (§12.3): once the daemon has detached, its diagnostics reach only
// syslog. The test points the monitor at a socket of its own
// (_SHIM_TEST_SYSLOG_SOCKET; glibc's /dev/log otherwise), triggers a
// warning through the ctl FIFO and reads the record.

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestSyslogWarning(t *testing.T) {
	headOnly(t, "the syslog socket path is shim's test hook; conmon always uses /dev/log")
	sock := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("_SHIM_TEST_SYSLOG_SOCKET", sock)
	r := startMon(t, monOpts{
		Args:  []string{"sh", "-c", "echo up; read x"},
		Extra: []string{"--syslog", "-i"},
	}).run()
	r.waitLog("up", 10*time.Second)
	ctl, err := os.OpenFile(filepath.Join(r.Bundle, "ctl"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.WriteString("foo\n"); err != nil {
		t.Fatal(err)
	}
	ctl.Close()
	re := regexp.MustCompile(`^<14>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^:]+): conmon (\S{20}) <nwarn>: Invalid control message format$`)
	buf := make([]byte, 8192)
	var got []string
	for {
		l.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := l.Read(buf)
		if err != nil {
			t.Fatalf("no warning reached syslog (%v); records: %q", err, got)
		}
		rec := string(buf[:n])
		got = append(got, rec)
		if m := re.FindStringSubmatch(rec); m != nil {
			if m[1] != filepath.Base(shimBin) || m[2] != r.ID[:20] {
				t.Fatalf("record %q: tag %q id %q, want %q and %q", rec, m[1], m[2], filepath.Base(shimBin), r.ID[:20])
			}
			break
		}
	}
	// Nothing of it on stderr: the daemon's stderr is /dev/null by now.
	if r.Stderr.Len() != 0 {
		t.Fatalf("first process stderr: %q", r.Stderr.String())
	}
}
