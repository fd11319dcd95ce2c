package integration

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// requireJournald fails unless a journald answers on its stream socket (a
// socket file can outlive the daemon, so connect rather than stat).
func requireJournald(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("unix", "/run/systemd/journal/stdout", 2*time.Second)
	if err != nil {
		t.Fatalf("journald is not running (%v): start /lib/systemd/systemd-journald as .ci/run does (package systemd, hack/install-deps.sh)", err)
	}
	c.Close()
}

func TestPodmanJournald(t *testing.T) {
	setupPodman(t)
	requireJournald(t)
	name := ctrName(t)
	r := pm(t, "run", "--name", name, "--log-driver", "journald", testImage,
		"sh", "-c", "echo hello; sleep 0.1; echo err >&2; sleep 0.1; printf part")
	if r.Code != 0 {
		t.Fatalf("podman run --log-driver journald: exit %d: %s", r.Code, r.Stderr)
	}
	id := inspect(t, name).ID

	// The journal entries, with the fields podman reads (§10.4).
	type entry struct {
		Message, Priority, Name, ShortID, Partial, Ident string
	}
	var got []entry
	eventually(t, 10*time.Second, "3 journal entries for the container", func() bool {
		out, _, code := runCmd(t, 30*time.Second, nil, "journalctl", "-o", "json", "--no-pager", "CONTAINER_ID_FULL="+id)
		if code != 0 {
			return false
		}
		got = got[:0]
		sc := bufio.NewScanner(strings.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			s := func(k string) string { v, _ := m[k].(string); return v }
			got = append(got, entry{s("MESSAGE"), s("PRIORITY"), s("CONTAINER_NAME"), s("CONTAINER_ID"), s("CONTAINER_PARTIAL_MESSAGE"), s("SYSLOG_IDENTIFIER")})
		}
		return len(got) >= 3
	})
	want := []entry{
		{"hello\n", "6", name, id[:12], "", name},
		{"err\n", "3", name, id[:12], "", name},
		{"part", "6", name, id[:12], "true", name},
	}
	if len(got) != len(want) {
		t.Fatalf("journal entries %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("journal entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	lr := pm(t, "logs", name)
	if lr.Code != 0 || lr.Stdout != "hello\npart" || lr.Stderr != "err\n" {
		t.Fatalf("podman logs: exit %d, stdout %q (want %q), stderr %q (want %q)", lr.Code, lr.Stdout, "hello\npart", lr.Stderr, "err\n")
	}
}
