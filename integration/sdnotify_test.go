package integration

// sd-notify through podman (§12.1): `podman run --sdnotify=container` with
// NOTIFY_SOCKET set for podman, as systemd would set it for a unit. The
// container speaks to /run/notify/notify.sock (the relay's socket, bind
// mounted by podman) with busybox logger: its datagram is a syslog header
// line followed by our lines, and the relay must pass on only the allowed
// ones.

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPodmanSdnotifyContainer(t *testing.T) {
	pod := setupPodman(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, err := l.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	name := pod.ctrName(t)
	script := `ln -s /run/notify/notify.sock /dev/log && ` +
		`logger -t app "$(printf '\nMAINPID=4242\nREADY=1\nSTATUS=serving\nFDSTORE=1')" && echo sent; sleep 1000`
	cmd := pod.cmd("run", "-d", "--name", name, "--sdnotify=container", testImage, "sh", "-c", script)
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sock)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	var got []string
	ready := ""
	deadline := time.After(30 * time.Second)
	for ready == "" {
		select {
		case m := <-msgs:
			got = append(got, m)
			if strings.Contains(m, "READY=1") {
				ready = m
			}
		case <-deadline:
			t.Fatalf("no READY=1 reached NOTIFY_SOCKET; got %q", got)
		}
	}
	in := pod.waitRunning(t, name, "sent")
	if strings.Contains(ready, "4242") || strings.Contains(ready, "FDSTORE") || strings.Contains(ready, "app:") {
		t.Fatalf("relay forwarded lines outside the allowlist: %q", ready)
	}
	if !isRef {
		// [HEAD] allowlist: STATUS= passes too (2.1.6 sends only READY=1).
		if ready != "READY=1\nSTATUS=serving" {
			t.Fatalf("relayed %q, want %q", ready, "READY=1\nSTATUS=serving")
		}
	}
	// podman announces the monitor as the service's main pid (before or
	// after the container's READY); the container's own MAINPID must never
	// get through.
	mainpid := "MAINPID=" + strconv.Itoa(in.State.ConmonPid)
	has := func(line string) bool {
		for _, m := range got {
			for _, l := range strings.Split(m, "\n") {
				if l == line {
					return true
				}
			}
		}
		return false
	}
	for !has(mainpid) {
		select {
		case m := <-msgs:
			got = append(got, m)
		case <-time.After(30 * time.Second):
			t.Fatalf("podman's %s not received (got %q)", mainpid, got)
		}
	}
	if has("MAINPID=4242") {
		t.Fatalf("the container's MAINPID was forwarded: %q", got)
	}
	sockFile := filepath.Join(bundleOf(t, name), "notify", "notify.sock")
	if fi, err := os.Stat(sockFile); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("relay socket %s: %v %v, want mode 0777", sockFile, fi, err)
	}
}

// bundleOf returns the OCI bundle dir of a podman container (the dir that
// holds config.json and, for the monitor, attach/ctl/notify).
func bundleOf(t *testing.T, name string) string {
	t.Helper()
	out := strings.TrimSpace(setupPodman(t).pmOK(t, "inspect", "--format", "{{.OCIConfigPath}}", name))
	if out == "" {
		t.Fatalf("no OCIConfigPath for %s", name)
	}
	return filepath.Dir(out)
}
