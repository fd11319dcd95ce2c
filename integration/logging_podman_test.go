package integration

// Logging through podman: journald with --log-opt tag= and long lines,
// journald down, and --log-opt max-size= for k8s-file.

import (
	"os"
	"strings"
	"testing"
)

// TestPodmanJournaldTag: `podman run --log-driver journald --log-opt tag=`
// then `podman logs` round-trips stdout, stderr, a line longer than 8 KiB
// (sent in partial pieces) and a partial last line; every entry carries the
// tag as CONTAINER_TAG and SYSLOG_IDENTIFIER.
func TestPodmanJournaldTag(t *testing.T) {
	pod := setupPodman(t)
	ensureJournald(t)
	name := pod.ctrName(t)
	tag := "shimtag-" + name[len(name)-8:]
	long := strings.Repeat("x", 20000)
	r := pod.pm(t, "run", "--name", name, "--log-driver", "journald", "--log-opt", "tag="+tag, testImage,
		"sh", "-c", "echo out; sleep 0.1; echo err >&2; sleep 0.1; printf '%s\\n' "+long+"; printf part")
	wantOut, wantErr := "out\n"+long+"\npart", "err\n"
	if r.Code != 0 || r.Stdout != wantOut || r.Stderr != wantErr {
		t.Fatalf("podman run: exit %d, stdout %q, stderr %q", r.Code, head(r.Stdout, 100), r.Stderr)
	}
	id := pod.inspect(t, name).ID
	entries := journalEntries(t, id, 6) // out, err, 8192 + 8192 + 3617 bytes of the long line, part
	if len(entries) != 6 {
		t.Errorf("%d journal entries, want 6", len(entries))
	}
	for i, e := range entries {
		if e["CONTAINER_TAG"] != tag || e["SYSLOG_IDENTIFIER"] != tag || e["CONTAINER_NAME"] != name {
			t.Errorf("entry %d: CONTAINER_TAG %q SYSLOG_IDENTIFIER %q CONTAINER_NAME %q, want the tag %q and name %q",
				i, e["CONTAINER_TAG"], e["SYSLOG_IDENTIFIER"], e["CONTAINER_NAME"], tag, name)
		}
	}
	lr := pod.pm(t, "logs", name)
	if lr.Code != 0 || lr.Stdout != wantOut || lr.Stderr != wantErr {
		t.Fatalf("podman logs: exit %d, stdout %q (%d bytes, want %d), stderr %q", lr.Code, head(lr.Stdout, 100), len(lr.Stdout), len(wantOut), lr.Stderr)
	}
}

// TestPodmanJournaldDown: with the journal gone, `podman run --log-driver
// journald` still runs the container and delivers its output to the
// attached podman; the monitor warns once.
func TestPodmanJournaldDown(t *testing.T) {
	pod := setupPodman(t)
	ensureJournald(t)
	syslog := listenSyslog(t)
	conmon := podmanJournalDown(t, "missing", os.Getenv("_SHIM_TEST_SYSLOG_SOCKET"))
	name := pod.ctrName(t)
	r := pod.pm(t, "--conmon", conmon, "run", "--name", name, "--log-driver", "journald", testImage,
		"sh", "-c", "echo out; sleep 0.1; echo err >&2; sleep 0.1; echo more")
	if r.Code != 0 || r.Stdout != "out\nmore\n" || r.Stderr != "err\n" {
		t.Fatalf("podman run with journald down: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if in := pod.inspect(t, name); in.State.ExitCode != 0 || in.State.Running {
		t.Fatalf("container state %+v, want exited 0", in.State)
	}
	headOnly(t, "the syslog socket is shim's test hook")
	if n := syslog.count("sd_journal_sendv: "); n != 1 {
		t.Fatalf("%d warnings about journald, want 1", n)
	}
}

// TestPodmanLogMaxSize: `--log-opt max-size=` reaches the monitor as
// --log-size-max: the file stays under the limit and keeps the newest
// lines, which `podman logs` shows.
func TestPodmanLogMaxSize(t *testing.T) {
	pod := setupPodman(t)
	name := pod.ctrName(t)
	pod.pmOK(t, "run", "--name", name, "--log-driver", "k8s-file", "--log-opt", "max-size=2k", testImage,
		"sh", "-c", `i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); done`)
	path := strings.TrimSpace(pod.pmOK(t, "inspect", "--format", "{{.HostConfig.LogConfig.Path}}", name))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2048 {
		t.Errorf("%s has %d bytes, want at most 2 KiB", path, fi.Size())
	}
	entries := parseLog(t, path)
	if len(entries) == 0 || entries[len(entries)-1].Content != "line 200\n" || entries[0].Content == "line 1\n" {
		t.Fatalf("log holds %q, want the newest lines only, ending with line 200", short(entries))
	}
	lr := pod.pmOK(t, "logs", name)
	var want strings.Builder
	for _, e := range entries {
		want.WriteString(e.Content)
	}
	if lr != want.String() {
		t.Fatalf("podman logs printed %q, want the file's lines %q", lr, want.String())
	}
}
