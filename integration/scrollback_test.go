package integration

// Attach scrollback (docs/interface.md §16.6): a client that attaches to a
// running container first gets what it printed before.

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

const scrollKey = "shim-project.github.io/attach-scrollback"

// TestPodmanAttachScrollback: `podman attach` to a container that printed
// three lines gets them first, then the live line, each once; with a
// terminal and without; without the annotation, only the live line.
func TestPodmanAttachScrollback(t *testing.T) {
	extension(t)
	forEachUser(t, func(t *testing.T, p *podman) {
		for _, tc := range []struct {
			name string
			run  []string
			want string
		}{
			{"pipes", []string{"--annotation", scrollKey + "=64Ki"}, "before 1\nbefore 2\nbefore 3\nafter\n"},
			{"terminal", []string{"-t", "--annotation", scrollKey + "=64Ki"}, "before 1\r\nbefore 2\r\nbefore 3\r\nafter\r\n"},
			{"off", nil, "after\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				name := p.runD(t, tc.run, "sh", "-c",
					`for i in 1 2 3; do echo before $i; done; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after`)
				p.waitRunning(t, name, "before 3")
				var out lockedBuffer
				cmd := p.cmd("attach", "--no-stdin", name)
				cmd.Stdout = &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				if tc.run != nil {
					testutil.Eventually(t, 20*time.Second, "the scrollback on podman attach", func() bool {
						return strings.Contains(out.String(), "before 3")
					})
				} else {
					time.Sleep(time.Second) // attached; nothing may arrive
				}
				p.pmOK(t, "exec", name, "touch", "/tmp/go")
				select {
				case err := <-done:
					if _, ok := err.(*exec.ExitError); err != nil && !ok {
						t.Fatal(err)
					}
				case <-time.After(30 * time.Second):
					cmd.Process.Kill()
					t.Fatal("podman attach did not end with the container")
				}
				if got := strings.TrimRight(out.String(), "\r\n") + "\n"; got != strings.TrimRight(tc.want, "\r\n")+"\n" {
					t.Errorf("podman attach printed %q, want %q", out.String(), tc.want)
				}
			})
		}
	})
}

// A client attaching while the container writes as fast as it can gets a
// stretch of the output that ends where the output ends, with no line
// lost or repeated at the seam between the kept and the live output.
func TestAttachScrollbackSeamDirect(t *testing.T) {
	extension(t)
	const n = 400000
	r := startMon(t, monOpts{
		Args:        []string{"sh", "-c", fmt.Sprintf("seq 1 %d", n)},
		Annotations: map[string]string{scrollKey: "64Ki"},
	})
	r.created()
	r.startCtr()
	r.waitLog("\n", 20*time.Second) // output flows
	c := dialAttach(t, r.Bundle+"/attach")
	r.finish("0")
	c.waitEOF()
	got := c.stream(2)
	var want strings.Builder
	for i := 1; i <= n; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if !strings.HasSuffix(want.String(), got) {
		t.Fatalf("the client's %d bytes are not the output's last %d (a line lost or repeated at the seam); they begin %q", len(got), len(got), head(got, 40))
	}
	if len(got) < 64<<10 && len(got) < want.Len() {
		t.Fatalf("the client got %d bytes, less than the 64 KiB kept", len(got))
	}
	t.Logf("the client got the last %d of %d bytes", len(got), want.Len())
}
