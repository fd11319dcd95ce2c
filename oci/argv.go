package oci

// Opts is what the runtime command line is built from (§6.1). The
// caller resolves defaults first: Bundle is -b or the cwd, PidFile is -p or
// <cwd>/pidfile-<cid>; an empty ConsoleSocket means no terminal.
type Opts struct {
	Runtime         string   // -r, argv[0] as given
	SystemdCgroup   bool     // -s (create/restore only)
	RuntimeArgs     []string // --runtime-arg, before the subcommand
	Bundle          string   // --bundle, and --work-path for restore
	PidFile         string   // --pid-file
	NoPivot         bool     // create/restore only
	NoNewKeyring    bool     // create/restore only
	RuntimeOpts     []string // --runtime-opt/--restore-arg, after the fixed flags
	ConsoleSocket   string   // --console-socket
	Cid             string   // last argument
	RestorePath     string   // --restore: --image-path
	ExecProcessSpec string   // --exec-process-spec: --process
}

// CreateArgs is
//
//	RUNTIME [--systemd-cgroup] [RUNTIME-ARG...] create --bundle B --pid-file P
//	[--no-pivot] [--no-new-keyring] [RUNTIME-OPT...] [--console-socket S] CID
func CreateArgs(o Opts) []string {
	a := o.head(true, "create")
	a = append(a, "--bundle", o.Bundle, "--pid-file", o.PidFile)
	a = o.pivotKeyring(a)
	return o.tail(a)
}

// RestoreArgs is
//
//	RUNTIME [--systemd-cgroup] [RUNTIME-ARG...] restore --bundle B --pid-file P
//	[--no-pivot] [--no-new-keyring] --detach --image-path R --work-path B
//	[RUNTIME-OPT...] [--console-socket S] CID
func RestoreArgs(o Opts) []string {
	a := o.head(true, "restore")
	a = append(a, "--bundle", o.Bundle, "--pid-file", o.PidFile)
	a = o.pivotKeyring(a)
	a = append(a, "--detach", "--image-path", o.RestorePath, "--work-path", o.Bundle)
	return o.tail(a)
}

// ExecArgs is
//
//	RUNTIME [RUNTIME-ARG...] exec --pid-file P --process SPEC --detach
//	[RUNTIME-OPT...] [--console-socket S] CID
//
// --tty is never added (conmon HEAD): runc and crun take the terminal
// setting from the process spec, and gVisor rejects the flag.
func ExecArgs(o Opts) []string {
	a := o.head(false, "exec")
	a = append(a, "--pid-file", o.PidFile, "--process", o.ExecProcessSpec, "--detach")
	return o.tail(a)
}

func (o Opts) head(cgroupFlag bool, sub string) []string {
	a := make([]string, 0, 16+len(o.RuntimeArgs)+len(o.RuntimeOpts))
	a = append(a, o.Runtime)
	if cgroupFlag && o.SystemdCgroup {
		a = append(a, "--systemd-cgroup")
	}
	a = append(a, o.RuntimeArgs...)
	return append(a, sub)
}

func (o Opts) pivotKeyring(a []string) []string {
	if o.NoPivot {
		a = append(a, "--no-pivot")
	}
	if o.NoNewKeyring {
		a = append(a, "--no-new-keyring")
	}
	return a
}

func (o Opts) tail(a []string) []string {
	a = append(a, o.RuntimeOpts...)
	if o.ConsoleSocket != "" {
		a = append(a, "--console-socket", o.ConsoleSocket)
	}
	return append(a, o.Cid)
}
