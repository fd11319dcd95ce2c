package logs

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio/stream"
)

const journaldBinary = "/lib/systemd/systemd-journald"

// journalAlive reports whether something receives on the journal socket:
// connecting a datagram socket fails when nobody is bound to the path.
func journalAlive(path string) bool {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.Connect(fd, &unix.SockaddrUnix{Name: path}) == nil
}

// ensureJournald makes sure a real systemd-journald is listening, starting
// one for this test when none runs (containers and CI VMs have no systemd
// as pid 1). It fails, rather than skips, when that is impossible.
func ensureJournald(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("journalctl"); err != nil {
		t.Fatal("journalctl not found: install systemd (hack/install-deps.sh, or apt-get install -y systemd)")
	}
	if journalAlive(DefaultJournalSocket) {
		return
	}
	if _, err := os.Stat(journaldBinary); err != nil {
		t.Fatalf("no journald running and %s missing: install systemd (hack/install-deps.sh)", journaldBinary)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("no journald at %s and starting %s needs root", DefaultJournalSocket, journaldBinary)
	}
	cmd := exec.Command(journaldBinary)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", journaldBinary, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); !journalAlive(DefaultJournalSocket); {
		if time.Now().After(deadline) {
			t.Fatalf("%s started but %s never came up", journaldBinary, DefaultJournalSocket)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// journalEntries reads back the entries of one container id, waiting until
// want of them are indexed.
func journalEntries(t *testing.T, cid string, want int) []map[string]string {
	t.Helper()
	var out []map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; {
		cmd := exec.Command("journalctl", "--no-pager", "--all", "-o", "json", "CONTAINER_ID_FULL="+cid)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("journalctl: %v", err)
		}
		out = parseJournalJSON(t, raw)
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseJournalJSON decodes journalctl's JSON lines; binary values come as
// arrays of byte values.
func parseJournalJSON(t *testing.T, raw []byte) []map[string]string {
	t.Helper()
	var out []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("journalctl line %q: %v", sc.Text(), err)
		}
		e := map[string]string{}
		for k, v := range m {
			var s string
			if json.Unmarshal(v, &s) == nil {
				e[k] = s
				continue
			}
			var bs []byte
			var ints []int
			if json.Unmarshal(v, &ints) == nil {
				for _, i := range ints {
					bs = append(bs, byte(i))
				}
				e[k] = string(bs)
			}
		}
		out = append(out, e)
	}
	return out
}

// TestJournaldReal sends entries to the real systemd-journald and reads them
// back with journalctl, as podman's `logs` does (match on CONTAINER_ID_FULL).
func TestJournaldReal(t *testing.T) {
	ensureJournald(t)
	rnd := make([]byte, 32)
	rand.Read(rnd)
	cid := hex.EncodeToString(rnd)
	w, err := New(Options{
		Specs:       []Spec{{Kind: Journald}},
		ContainerID: cid,
		Name:        "shim-test", NameSet: true,
		Tag: "shimtag", TagSet: true,
		Labels: []string{"SHIM_LABEL=one", "SHIM_OTHER=two=2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Force the memfd path for the big entry: the smallest send buffer the
	// kernel grants (about 4.5 KiB) is below one 8 KiB piece.
	if err := unix.SetsockoptInt(w.journal.conn.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1024); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("B", maxContent-1) + "\n"
	chunks := []struct {
		s stream.Stream
		p string
	}{
		{stream.Stdout, "hello journald\n"},
		{stream.Stderr, "<4>not a priority\n"},
		{stream.Stdout, "tab\there, bell \a\n"},
		{stream.Stdout, big},
		{stream.Stdout, "held back"},
	}
	for _, c := range chunks {
		if err := w.Write(c.s, []byte(c.p)); err != nil {
			t.Fatalf("write %.20q: %v", c.p, err)
		}
	}
	if err := w.Close(false); err != nil { // flushes "held back" as partial
		t.Fatal(err)
	}
	if w.journal.memfdSends != 1 {
		t.Fatalf("memfd sends = %d, want 1", w.journal.memfdSends)
	}

	got := journalEntries(t, cid, 5)
	want := []struct {
		msg, prio string
		partial   bool
	}{
		{"hello journald\n", "6", false},
		{"<4>not a priority\n", "3", false},
		{"tab\there, bell \a\n", "6", false},
		{big, "6", false},
		{"held back", "6", true},
	}
	if len(got) != len(want) {
		t.Fatalf("journal has %d entries for %s, want %d", len(got), cid, len(want))
	}
	for i, w := range want {
		e := got[i]
		_, partial := e["CONTAINER_PARTIAL_MESSAGE"]
		if e["MESSAGE"] != w.msg || e["PRIORITY"] != w.prio || partial != w.partial {
			t.Errorf("entry %d: MESSAGE %.40q (%d bytes) PRIORITY %s partial %v; want %.40q %s %v",
				i, e["MESSAGE"], len(e["MESSAGE"]), e["PRIORITY"], partial, w.msg, w.prio, w.partial)
		}
		fixed := map[string]string{
			"CONTAINER_ID_FULL": cid, "CONTAINER_ID": cid[:12], "CONTAINER_NAME": "shim-test",
			"CONTAINER_TAG": "shimtag", "SYSLOG_IDENTIFIER": "shimtag",
			"SHIM_LABEL": "one", "SHIM_OTHER": "two=2", "_TRANSPORT": "journal",
		}
		for k, v := range fixed {
			if e[k] != v {
				t.Errorf("entry %d: %s = %q, want %q", i, k, e[k], v)
			}
		}
		if w.partial && e["CONTAINER_PARTIAL_MESSAGE"] != "true" {
			t.Errorf("entry %d: CONTAINER_PARTIAL_MESSAGE = %q", i, e["CONTAINER_PARTIAL_MESSAGE"])
		}
	}
}
