package integration

// Checkpoint/restore (§6.1). criu cannot run on the test machine (criu
// 3.17 fails `criu check` on this kernel's vDSO layout), so the restore is
// checked up to the runtime: the exact argv through a recording wrapper,
// and runc's failure coming back as the sync message.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRestoreArgv(t *testing.T) {
	setup(t)
	for _, tc := range []struct {
		name   string
		flags  []string // --no-pivot / --no-new-keyring
		errSub string   // in the sync message
	}{
		// runc 1.1 restore has no --no-new-keyring; conmon passes it all the same.
		{"all_flags", []string{"--no-pivot", "--no-new-keyring"}, "no-new-keyring"},
		// With an image dir that runc accepts this gets as far as criu.
		{"runtime_runs", []string{"--no-pivot"}, "criu"},
	} {
		t.Run(tc.name, func(t *testing.T) { restoreArgv(t, tc.flags, tc.errSub) })
	}
}

func restoreArgv(t *testing.T, flags []string, errSub string) {
	dir := t.TempDir()
	record := filepath.Join(dir, "argv")
	wrapper := filepath.Join(dir, "runtime")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$0\" \"$@\" > %s\nexec %s \"$@\"\n", record, runcBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(dir, "checkpoint")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	// runc reads the stdio layout of the checkpoint before calling criu.
	if err := os.WriteFile(filepath.Join(images, "descriptors.json"), []byte(`["/dev/null","/dev/null","/dev/null"]`), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := append([]string{"-r", wrapper}, flags...)
	extra = append(extra, "--restore", images,
		"--runtime-opt", "--tcp-established", "--restore-arg", "--lsm-profile=unconfined",
		"--runtime-opt", "--file-locks")
	r := startMon(t, monOpts{Args: []string{"true"}, Extra: extra})
	r.firstExit()
	key, val, msg := r.syncMsg(60 * time.Second)
	if key != "data" || val != -1 || !strings.Contains(msg, errSub) {
		t.Fatalf("sync message %s=%d %q: want data=-1 with runc's error mentioning %q", key, val, msg, errSub)
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{wrapper, "--root=" + r.RuncRoot, "restore",
		"--bundle", r.Bundle, "--pid-file", filepath.Join(r.Bundle, "pidfile")}
	want = append(want, flags...)
	want = append(want, "--detach", "--image-path", images, "--work-path", r.Bundle,
		"--tcp-established", "--lsm-profile=unconfined", "--file-locks", r.ID)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("runtime argv\n%q\nwant\n%q", got, want)
	}
	// A failed restore is a failed create: no exit files.
	waitGone(t, r.Daemon, 10*time.Second, "monitor after the failed restore")
	if _, err := os.Stat(r.exitFile()); err == nil {
		t.Fatal("exit file written for a failed restore")
	}
	t.Logf("runc restore said: %s", msg)
	if b, err := os.ReadFile(filepath.Join(r.Bundle, "restore.log")); err == nil {
		t.Logf("criu's restore.log (work path = bundle):\n%s", tail(b, 2000))
	}
}
