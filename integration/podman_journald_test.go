package integration

import (
	"testing"
)

func TestPodmanJournald(t *testing.T) {
	pod := setupPodman(t)
	ensureJournald(t)
	name := pod.ctrName(t)
	r := pod.pm(t, "run", "--name", name, "--log-driver", "journald", testImage,
		"sh", "-c", "echo hello; sleep 0.1; echo err >&2; sleep 0.1; printf part")
	if r.Code != 0 {
		t.Fatalf("podman run --log-driver journald: exit %d: %s", r.Code, r.Stderr)
	}
	id := pod.inspect(t, name).ID

	// The journal entries, with the fields podman reads (§10.4).
	type entry struct {
		Message, Priority, Name, ShortID, Partial, Ident string
	}
	var got []entry
	for _, m := range journalEntries(t, id, 3) {
		got = append(got, entry{m["MESSAGE"], m["PRIORITY"], m["CONTAINER_NAME"], m["CONTAINER_ID"], m["CONTAINER_PARTIAL_MESSAGE"], m["SYSLOG_IDENTIFIER"]})
	}
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

	lr := pod.pm(t, "logs", name)
	if lr.Code != 0 || lr.Stdout != "hello\npart" || lr.Stderr != "err\n" {
		t.Fatalf("podman logs: exit %d, stdout %q (want %q), stderr %q (want %q)", lr.Code, lr.Stdout, "hello\npart", lr.Stderr, "err\n")
	}
}
