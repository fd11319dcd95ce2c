// Package cli is shim's command line as conmon has it: the option table and
// its GLib-style parser, --help and --version, and the pre-fork validation
// with conmon's exact messages (§1, §2). It decides nothing about running a
// container; cmd/shim acts on the Config it returns.
package cli

// Config is the parsed command line (§1.2). Field names follow the
// long option names. Integer options keep the C types conmon uses: int32 for
// I options, int64 for L options. "Set" booleans record presence where the
// interface (docs/interface.md) distinguishes an empty value from a missing one.
type Config struct {
	APIVersion bool // --api-version (any presence)

	Bundle    string // -b, --bundle
	BundleSet bool

	Cid    string // -c, --cid
	CidSet bool

	ConmonPidfile string // -P, --conmon-pidfile

	ContainerPidfile    string // -p, --container-pidfile, --pidfile
	ContainerPidfileSet bool

	Cuuid    string // -u, --cuuid
	CuuidSet bool

	Exec            bool   // -e, --exec
	ExecAttach      bool   // --exec-attach
	ExecProcessSpec string // --exec-process-spec
	ExecSpecSet     bool

	ExitCommand     string   // --exit-command
	ExitCommandArgs []string // --exit-command-arg (repeatable)
	ExitDelay       int32    // --exit-delay
	ExitDir         string   // --exit-dir
	PersistDir      string   // -0, --persist-dir

	LeaveStdinOpen bool   // --leave-stdin-open
	LogLevel       string // --log-level
	LogLevelSet    bool

	LogPaths           []string // -l, --log-path (repeatable)
	LogSizeMax         int64    // --log-size-max (default -1)
	LogGlobalSizeMax   int64    // --log-global-size-max (default -1)
	LogTag             string   // --log-tag
	LogTagSet          bool
	LogLabels          []string // --log-label (repeatable)
	NoContainerPartial bool     // --no-container-partial-message
	LogRotate          bool     // --log-rotate
	LogMaxFiles        int32    // --log-max-files (default 1)
	LogAllowlistDirs   []string // --log-allowlist-dir (repeatable)

	Name    string // -n, --name
	NameSet bool

	NoNewKeyring     bool // --no-new-keyring
	NoPivot          bool // --no-pivot
	NoSyncLog        bool // --no-sync-log
	ReplaceListenPid bool // --replace-listen-pid

	Restore    string // --restore
	RestoreSet bool

	Runtime     string // -r, --runtime
	RuntimeSet  bool
	RuntimeArgs []string // --runtime-arg (repeatable)
	RuntimeOpts []string // --runtime-opt, --restore-arg (repeatable, shared)

	SdnotifySocket string // --sdnotify-socket
	SocketDirPath  string // --socket-dir-path (default /var/run/crio)
	FullAttach     bool   // --full-attach
	Stdin          bool   // -i, --stdin
	Sync           bool   // --sync
	Syslog         bool   // --syslog
	SystemdCgroup  bool   // -s, --systemd-cgroup
	Terminal       bool   // -t, --terminal
	Timeout        int32  // -T, --timeout
	Version        bool   // --version
	Help           bool   // -h, --help, --help-all

	// Cwd is the working directory at startup (getcwd, §1.3 row l), filled
	// by ValidateEarly; the defaults of Bundle and ContainerPidfile derive
	// from it, which is why BundleSet/ContainerPidfileSet stay false then.
	Cwd string

	SeccompNotifySocket  string // --seccomp-notify-socket (2.1.6 only, ignored)
	SeccompNotifyPlugins string // --seccomp-notify-plugins (2.1.6 only, ignored)
}
