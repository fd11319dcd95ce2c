// Command memwork puts a running container's monitor through the attach
// and control work of hack/bench-mem.sh's after-work figure: N attach
// sessions (connect, take what output comes for a moment, hang up) and N
// control messages (alternately a resize and a log reopen), given the
// directory that holds the monitor's attach socket and ctl FIFO (podman:
// the container's userdata directory).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shim-project/shim/internal/testutil"
)

func main() {
	dir := flag.String("dir", "", "directory with the attach socket and the ctl FIFO")
	sessions := flag.Int("sessions", 1000, "attach sessions")
	ctl := flag.Int("ctl", 1000, "control messages")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "memwork: -dir is required")
		os.Exit(2)
	}
	if err := testutil.AttachSessions(*dir, *sessions); err != nil {
		fmt.Fprintln(os.Stderr, "memwork:", err)
		os.Exit(1)
	}
	if err := testutil.CtlMessages(filepath.Join(*dir, "ctl"), *ctl); err != nil {
		fmt.Fprintln(os.Stderr, "memwork:", err)
		os.Exit(1)
	}
}
