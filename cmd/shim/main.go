//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command shim is a container monitor that engines (podman, CRI-O) run in
// place of conmon. The same binary plays three parts, chosen at start:
//
//	first process   parse + validate, read the start pipe, re-exec the daemon,
//	                write --conmon-pidfile, exit 0
//	daemon          (env _SHIM_DAEMON) runs the runtime and monitors the container
//	launcher        (env _SHIM_LAUNCH) pre-exec steps for a child, then execve
package main

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/oci"
)

func main() {
	if oci.IsLauncher() {
		oci.RunLauncher()
	}
	// Fixed modes for everything we create (log 0640, FIFOs 0640, exit files
	// 0644) whatever the engine's umask, as conmon HEAD does.
	unix.Umask(0o022)
	os.Exit(run(os.Args[1:]))
}
