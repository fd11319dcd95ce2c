package integration

// The journald driver through the binary (§10.4): fields as journalctl
// shows them, the 12-character cid refusal, and a journal that is missing
// or refuses entries (a warning; the container and the other drivers go on).

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/testutil"
)

const journalSocket = "/run/systemd/journal/socket"

// journalUp reports whether something receives on the native journal socket
// (a socket file can outlive its daemon, so connect rather than stat).
func journalUp() bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrUnix{Name: journalSocket}) == nil
}

var journaldMu sync.Mutex // one test at a time checks and starts journald

// ensureJournald starts systemd-journald when none is running (systemd is
// not pid 1 on CI machines and in containers), as .ci/run does, and leaves
// it running for the rest of the run: other tests and later runs use it.
// A journald that was already there is never touched.
func ensureJournald(t *testing.T) {
	t.Helper()
	journaldMu.Lock()
	defer journaldMu.Unlock()
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Fatal("journalctl not found: install systemd (hack/install-deps.sh)")
	}
	if journalUp() {
		return
	}
	const bin = "/lib/systemd/systemd-journald"
	cmd := exec.Command(bin)
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("no journald running, and starting %s failed: %v (install systemd: hack/install-deps.sh)", bin, err)
	}
	go cmd.Wait() // reap it should it die
	testutil.Eventually(t, 10*time.Second, "systemd-journald to listen on "+journalSocket, journalUp)
}

// journalEntries waits for at least n entries of container id and returns
// their fields. Binary values (journalctl prints them as byte arrays) are
// turned back into strings.
func journalEntries(t *testing.T, id string, n int) []map[string]string {
	t.Helper()
	var got []map[string]string
	testutil.Eventually(t, 15*time.Second, "journal entries of "+id, func() bool {
		out, _, code := runCmd(t, 30*time.Second, nil, "journalctl", "-o", "json", "--all", "--no-pager", "CONTAINER_ID_FULL="+id)
		if code != 0 {
			return false
		}
		got = got[:0]
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var raw map[string]any
			if json.Unmarshal(sc.Bytes(), &raw) != nil {
				continue
			}
			e := map[string]string{}
			for k, v := range raw {
				switch v := v.(type) {
				case string:
					e[k] = v
				case []any:
					b := make([]byte, 0, len(v))
					for _, x := range v {
						if f, ok := x.(float64); ok {
							b = append(b, byte(f))
						}
					}
					e[k] = string(b)
				}
			}
			got = append(got, e)
		}
		return len(got) >= n
	})
	return got
}

func TestLoggingJournaldCidTooShort(t *testing.T) {
	setup(t)
	for _, args := range [][]string{
		{"-c", "0123456789ab", "-u", "x", "-r", runcBin, "-l", "journald"},
		{"-c", "0123456789ab", "-u", "x", "-r", runcBin, "-l", "k8s-file:" + filepath.Join(t.TempDir(), "ctr.log"), "-l", "journald:"},
		{"-c", "x", "-u", "x", "-r", runcBin, "-l", "journald"},
	} {
		_, errOut, code := runCmd(t, 10*time.Second, nil, shimBin, args...)
		if code != 1 || !strings.Contains(errOut, "Container ID must be longer than 12 characters") {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and the cid-length message", args, code, errOut)
		}
	}
}

// TestLoggingJournaldFields: what a container prints reaches the journal
// with the fields of docs/interface.md §10.4; a line longer than 8 KiB arrives in partial
// pieces that join up to the line.
func TestLoggingJournaldFields(t *testing.T) {
	ensureJournald(t)
	headOnly(t, "--log-label is a HEAD option")
	long := strings.Repeat("L", 20000)
	r := startMon(t, monOpts{
		LogArgs: []string{"-l", "journald"},
		Extra:   []string{"--log-tag", "shimtag", "--log-label", "SHIM_TEST=yes"},
		Args:    []string{"sh", "-c", "echo out; sleep 0.1; echo err >&2; sleep 0.1; printf '%s\\n' " + long + "; printf part"},
	}).run()
	r.finish("0")
	got := journalEntries(t, r.ID, 6)
	name := "test-" + r.ID[len(r.ID)-6:]
	var joined strings.Builder
	for i, e := range got {
		want := map[string]string{
			"CONTAINER_ID_FULL": r.ID, "CONTAINER_ID": r.ID[:12], "CONTAINER_NAME": name,
			"CONTAINER_TAG": "shimtag", "SYSLOG_IDENTIFIER": "shimtag", "SHIM_TEST": "yes",
		}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("entry %d: %s = %q, want %q", i, k, e[k], v)
			}
		}
		if len(e["MESSAGE"]) > 8192 {
			t.Errorf("entry %d: MESSAGE of %d bytes, want at most 8192", i, len(e["MESSAGE"]))
		}
		if i >= 2 && i < len(got)-1 {
			joined.WriteString(e["MESSAGE"])
		}
	}
	first, last := got[0], got[len(got)-1]
	if first["MESSAGE"] != "out\n" || first["PRIORITY"] != "6" || first["CONTAINER_PARTIAL_MESSAGE"] != "" {
		t.Errorf("first entry %q prio %s partial %q", first["MESSAGE"], first["PRIORITY"], first["CONTAINER_PARTIAL_MESSAGE"])
	}
	if got[1]["MESSAGE"] != "err\n" || got[1]["PRIORITY"] != "3" {
		t.Errorf("second entry %q prio %s, want err on priority 3", got[1]["MESSAGE"], got[1]["PRIORITY"])
	}
	if joined.String() != long+"\n" {
		t.Errorf("the long line's pieces join to %d bytes, want %d", joined.Len(), len(long)+1)
	}
	if last["MESSAGE"] != "part" || last["CONTAINER_PARTIAL_MESSAGE"] != "true" {
		t.Errorf("last entry %q partial %q, want the partial line flushed at exit", last["MESSAGE"], last["CONTAINER_PARTIAL_MESSAGE"])
	}
}

// journalHidden is a wrapper for monOpts.Wrap: the monitor runs in a mount
// namespace of its own where the journal socket is gone (an empty tmpfs on
// its directory) or refuses entries (/dev/null bound over it). The monitor
// itself always uses /run/systemd/journal/socket.
func journalHidden(how string) []string {
	mount := "mount -t tmpfs tmpfs /run/systemd/journal"
	if how == "refusing" {
		mount = "mount --bind /dev/null " + journalSocket
	}
	return []string{"unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", mount + ` && exec "$0" "$@"`}
}

// TestLoggingJournaldDown: with the journal missing or refusing, the
// monitor warns once, and the container, the k8s-file and attach clients
// carry on.
func TestLoggingJournaldDown(t *testing.T) {
	ensureJournald(t) // the socket file must exist to be hidden
	for _, how := range []string{"missing", "refusing"} {
		t.Run(how, func(t *testing.T) {
			syslog := listenSyslog(t)
			log := filepath.Join(t.TempDir(), "ctr.log")
			r := startMon(t, monOpts{
				Wrap:    journalHidden(how),
				LogArgs: []string{"-l", "journald", "-l", "k8s-file:" + log},
				Extra:   []string{"--syslog"},
				Args:    []string{"sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; printf four"},
			})
			r.LogPath = log
			r.created()
			c := dialAttach(t, filepath.Join(r.Bundle, "attach"))
			r.startCtr()
			r.finish("0")
			logIs(t, log, "stdout F one\n", "stderr F two\n", "stdout F three\n", "stdout P four\n")
			c.waitEOF()
			if got := c.stream(2) + "|" + c.stream(3); got != "one\nthree\nfour|two\n" {
				t.Errorf("attach client got %q", got)
			}
			headOnly(t, "the syslog socket is shim's test hook")
			testutil.Eventually(t, 10*time.Second, "a warning about journald", func() bool { return syslog.has("sd_journal_sendv: ") })
			if n := syslog.count("sd_journal_sendv: "); n != 1 {
				t.Errorf("%d warnings about journald, want 1 for the whole run", n)
			}
		})
	}
}

// podmanJournalDown writes a --conmon wrapper for podman that runs the
// monitor under journalHidden(how) with --syslog pointed at the test's
// socket.
func podmanJournalDown(t *testing.T, how, syslogSock string) string {
	t.Helper()
	mon := testutil.ShellQuote(shimBin)
	script := "#!/bin/sh\n" +
		"case \"$1\" in --version) exec " + mon + " \"$@\";; esac\n" +
		"export _SHIM_TEST_SYSLOG_SOCKET=" + testutil.ShellQuote(syslogSock) + "\n" +
		"exec " + testutil.ShellJoin(journalHidden(how)...) + " " + mon + " \"$@\" --syslog\n"
	path := filepath.Join(t.TempDir(), "conmon-journal-"+how)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
