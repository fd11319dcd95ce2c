package integration

// The log path under stress (issue 4): kubelet-style rotation while the
// container writes at full speed, a log on a disk that fills up, and the
// k8s-file limits and rotation options, driven directly with runc.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

// writeCtl sends one message to the monitor's ctl FIFO.
func writeCtl(t *testing.T, bundle, msg string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(bundle, "ctl"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(msg); err != nil {
		t.Fatal(err)
	}
}

// logLines reads k8s-file logs in order and rebuilds each stream's lines:
// P pieces are joined with what follows on the same stream, also across
// files (a line may start before a rotation and end after it). It checks
// every entry's shape as parseLog does, without a regexp per line (the
// files hold millions of entries). A trailing piece without its F is
// returned as the stream's partial rest.
func logLines(t *testing.T, paths ...string) (lines map[string][]string, rest map[string]string) {
	t.Helper()
	lines, rest = map[string][]string{}, map[string]string{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Fatalf("%s does not end with a newline: ...%q", path, tail(b, 80))
		}
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			e := b[:i]
			b = b[i+1:]
			if len(e) < 45 || e[4] != '-' || e[10] != 'T' || e[19] != '.' || e[35] != ' ' || e[42] != ' ' || e[44] != ' ' ||
				(e[29] != '+' && e[29] != '-') || (e[43] != 'F' && e[43] != 'P') {
				t.Fatalf("%s: malformed k8s-file line %q", path, head(string(e), 200))
			}
			stream := string(e[36:42])
			if stream != "stdout" && stream != "stderr" {
				t.Fatalf("%s: bad stream in %q", path, head(string(e), 200))
			}
			rest[stream] += string(e[45:])
			if e[43] == 'F' {
				lines[stream] = append(lines[stream], rest[stream])
				rest[stream] = ""
			}
		}
	}
	return lines, rest
}

// checkNumbered checks that got is exactly the lines "1".."n" in order for
// some n, and returns n.
func checkNumbered(t *testing.T, what string, got []string) int {
	t.Helper()
	for i, l := range got {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("%s: line %d is %q, want %d (a line lost, doubled or out of order)", what, i+1, head(l, 40), i+1)
		}
	}
	return len(got)
}

// TestLoggingKubeletRotation: kubelet rotates by renaming the log away and
// sending ctl "2 0 0", again and again, while the container writes as fast
// as it can on both streams. Across all files every line is there exactly
// once and in order, per stream. The container writes in bursts of 2000
// lines with 1 ms between them, so that its output lasts a few seconds
// whatever the machine's speed: written in one go, a fast monitor had
// logged it all before the test could rotate more than once.
func TestLoggingKubeletRotation(t *testing.T) {
	const n, burst = 1000000, 2000
	r := startMon(t, monOpts{Args: []string{"sh", "-c", fmt.Sprintf(
		`w() { i=1; while [ $i -le %d ]; do seq $i $((i+%d)); usleep 1000; i=$((i+%d)); done; }; w & w >&2; wait; echo END; exec sleep 1000`,
		n, burst-1, burst)}}).run()
	r.waitLog("1\n", 10*time.Second)

	var files []string
	stop := time.Now().Add(2 * time.Minute)
	for done := false; !done; {
		if time.Now().After(stop) {
			t.Fatalf("no END after %d rotations in 2 minutes", len(files))
		}
		old := fmt.Sprintf("%s.%d", r.LogPath, len(files)+1)
		if err := os.Rename(r.LogPath, old); err != nil {
			t.Fatal(err)
		}
		files = append(files, old)
		writeCtl(t, r.Bundle, "2 0 0\n")
		// The new file must appear at once (CRI-O waits for it).
		// Polled every millisecond, not at testutil's pace: the more
		// rotations fall into the writing, the more the test checks.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			if _, err := os.Stat(r.LogPath); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rotation %d: %s not recreated 5s after ctl \"2 0 0\"", len(files), r.LogPath)
			}
		}
		// END comes after both seqs ended; stderr output read after it
		// may still be on its way and is found in the later files.
		b, err := os.ReadFile(old)
		if err != nil {
			t.Fatal(err)
		}
		done = bytes.Contains(b, []byte(" stdout F END\n"))
	}
	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %d %s", code, out)
	}
	r.finish("137")

	lines, rest := logLines(t, append(files, r.LogPath)...)
	if rest["stdout"] != "" || rest["stderr"] != "" {
		t.Fatalf("unfinished lines at the end: %q", rest)
	}
	out := lines["stdout"]
	if len(out) == 0 || out[len(out)-1] != "END" {
		t.Fatalf("stdout does not end with END")
	}
	if got := checkNumbered(t, "stdout", out[:len(out)-1]); got != n {
		t.Fatalf("stdout has lines 1..%d, want 1..%d", got, n)
	}
	if got := checkNumbered(t, "stderr", lines["stderr"]); got != n {
		t.Fatalf("stderr has lines 1..%d, want 1..%d", got, n)
	}
	busy := 0
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
			busy++
		}
	}
	t.Logf("%d rotations, %d files with output", len(files), busy)
	if busy < 3 {
		t.Fatalf("only %d of %d rotated files hold output: the rotations did not overlap the writing", busy, len(files))
	}
}

// lastNumber returns the number of the last complete "line N" in s.
func lastNumber(s string) int {
	s = strings.TrimRight(s, "\n")
	i := strings.LastIndex(s, "line ")
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(s[i+5:]))
	return n
}

// mountTmpfs mounts a tmpfs of the given size (mount -o size=) on a fresh
// directory and unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// TestLoggingDiskFull: the log's file system fills up. The container keeps
// running, attach clients keep getting its output, the monitor warns once
// (not once per line), and logging resumes when there is space again, the
// file holding whole entries only, in order.
func TestLoggingDiskFull(t *testing.T) {
	headOnly(t, "conmon has no test hook for its syslog socket")
	small := mountTmpfs(t, "1m")
	filler := filepath.Join(small, "filler")
	if err := os.WriteFile(filler, make([]byte, 768<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	syslog := listenSyslog(t)
	log := filepath.Join(small, "ctr.log")
	r := startMon(t, monOpts{
		LogArgs: []string{"-l", "k8s-file:" + log},
		Extra:   []string{"--syslog"},
		// About 2000 lines a second: the disk fills within seconds.
		Args: []string{"sh", "-c", `i=0; while true; do i=$((i+1)); echo "line $i"; [ $((i % 100)) -eq 0 ] && sleep 0.05; done`},
	})
	r.LogPath = log
	r.created()
	c := dialAttach(t, filepath.Join(r.Bundle, "attach")) // before the start, as podman does
	r.startCtr()

	testutil.Eventually(t, 60*time.Second, "a warning about the full disk", func() bool {
		return syslog.has("no space left on device")
	})
	// While it is full the log falls behind what the attach client gets
	// (an entry may still squeeze into the file's last page now and then).
	testutil.Eventually(t, 60*time.Second, "attach output well past the end of the log", func() bool {
		return lastNumber(c.stream(2)) > lastNumber(fileTail(log, 200))+1000
	})
	if n := syslog.count("write log"); n != 1 {
		t.Fatalf("%d warnings about log writes while the disk is full, want 1", n)
	}
	if !alive(r.CtrPID) {
		t.Fatal("the container died when the log's disk filled up")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := lastNumber(c.stream(2))
	testutil.Eventually(t, 60*time.Second, "logging to resume after space was freed", func() bool {
		return lastNumber(fileTail(log, 200)) > freed
	})
	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %d %s", code, out)
	}
	r.finish("137")

	entries := parseLog(t, log) // whole entries only: nothing half written
	prev, gaps := 0, 0
	for _, e := range entries {
		var k int
		if _, err := fmt.Sscanf(e.Content, "line %d\n", &k); err != nil || e.Tag != "F" || e.Stream != "stdout" {
			t.Fatalf("unexpected entry %+v", e)
		}
		if k <= prev {
			t.Fatalf("line %d after line %d: order lost", k, prev)
		}
		if k != prev+1 {
			gaps++
		}
		prev = k
	}
	if gaps == 0 || prev <= freed {
		t.Fatalf("log ends at line %d with %d gaps; want the lines of the full period missing and lines after %d present", prev, gaps, freed)
	}
	// The attach client, connected before the start, got every line.
	att := strings.Split(strings.TrimSuffix(c.stream(2), "\n"), "\n")
	for i, l := range att {
		if l != fmt.Sprintf("line %d", i+1) {
			t.Fatalf("attach line %d is %q: attach output lost or reordered", i+1, l)
		}
	}
}

// count returns how many records contain s.
func (r *syslogRecords) count(s string) int {
	r.mu <- struct{}{}
	defer func() { <-r.mu }()
	n := 0
	for _, rec := range r.recs {
		if strings.Contains(rec, s) {
			n++
		}
	}
	return n
}

// tenLines prints "line 1".."line 10": entries of 52 bytes (53 for the
// last), as in the examples of docs/interface.md (§10.3, §10.5).
var tenLines = []string{"sh", "-c", "i=1; while [ $i -le 10 ]; do echo line $i; i=$((i+1)); done"}

// logIs checks the entries of a k8s-file in short()'s form ("stdout F x\n").
func logIs(t *testing.T, path string, want ...string) {
	t.Helper()
	if got := short(parseLog(t, path)); strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("%s holds %q, want %q", filepath.Base(path), got, want)
	}
}

// logHolds checks that a k8s-file holds exactly these whole stdout lines.
func logHolds(t *testing.T, path string, lines ...string) {
	t.Helper()
	var w []string
	for _, s := range lines {
		w = append(w, "stdout F "+s+"\n")
	}
	logIs(t, path, w...)
}

func TestLoggingRotateMaxFiles(t *testing.T) {
	headOnly(t, "--log-rotate and --log-max-files are HEAD options")
	for _, tc := range []struct {
		maxFiles string
		backups  int
	}{{"1", 2}, {"2", 2}, {"3", 3}} {
		t.Run(tc.maxFiles, func(t *testing.T) {
			r := startMon(t, monOpts{Args: tenLines,
				Extra: []string{"--log-rotate", "--log-max-files", tc.maxFiles, "--log-size-max", "120"}}).run()
			r.finish("0")
			logHolds(t, r.LogPath, "line 9", "line 10")
			logHolds(t, r.LogPath+".1", "line 7", "line 8")
			logHolds(t, r.LogPath+".2", "line 5", "line 6")
			if tc.backups == 3 {
				logHolds(t, r.LogPath+".3", "line 3", "line 4")
			}
			noFile(t, fmt.Sprintf("%s.%d", r.LogPath, tc.backups+1), "more backups than max(--log-max-files, 2)")
		})
	}
}

// TestLoggingAllowlist: with --log-allowlist-dir, a rotation of a log that
// lies outside the allowed directories is refused, also when the path only
// reaches there through a symlink: the log stays one file and keeps
// growing, with one warning. Inside, rotation works.
func TestLoggingAllowlist(t *testing.T) {
	headOnly(t, "--log-allowlist-dir is a HEAD option, and the refusal of existing files is shim's")
	allowed, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(allowed, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, log string
		rotates   bool
	}{
		{"outside", filepath.Join(outside, "a.log"), false},
		{"symlink_escape", filepath.Join(allowed, "escape", "b.log"), false},
		{"inside", filepath.Join(allowed, "c.log"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syslog := listenSyslog(t)
			r := startMon(t, monOpts{Args: tenLines, LogArgs: []string{"-l", "k8s-file:" + tc.log},
				Extra: []string{"--syslog", "--log-rotate", "--log-size-max", "120", "--log-allowlist-dir", allowed}})
			r.LogPath = tc.log
			r.run().finish("0")
			if !tc.rotates {
				noFile(t, tc.log+".1", "rotated outside the allowed directories")
				logHolds(t, tc.log, "line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10")
				testutil.Eventually(t, 10*time.Second, "a warning about the refused rotation", func() bool {
					return syslog.has("not in an allowed directory")
				})
				if n := syslog.count("not in an allowed directory"); n != 1 {
					t.Errorf("%d warnings about the refused rotation, want 1", n)
				}
				return
			}
			logHolds(t, tc.log, "line 9", "line 10")
			logHolds(t, tc.log+".1", "line 7", "line 8")
		})
	}
}

func TestLoggingGlobalSizeMax(t *testing.T) {
	r := startMon(t, monOpts{Args: tenLines, Extra: []string{"--log-global-size-max", "120"}})
	r.created()
	c := dialAttach(t, filepath.Join(r.Bundle, "attach"))
	r.startCtr()
	r.finish("0")
	// The entry that crosses 120 bytes is written whole, then nothing.
	logHolds(t, r.LogPath, "line 1", "line 2", "line 3")
	c.waitEOF()
	if got := c.stream(2); !strings.HasSuffix(got, "line 9\nline 10\n") {
		t.Errorf("attach client got %q, want all ten lines (the limit is the log's only)", got)
	}
}
