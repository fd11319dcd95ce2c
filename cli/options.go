package cli

import (
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/shim-project/shim/internal/cabi"
)

// conmon parses its command line with GLib's GOption, and engines depend on
// GOption's quirks (§1.1): `--flag=VALUE` sets a flag, the word after
// a value-taking option is always its value, stray words are ignored, short
// options never take an attached value. This file reimplements exactly that
// parser over the option table below instead of using Go's flag package.

// argKind is the GOption argument type of an option.
type argKind uint8

const (
	argFlag    argKind = iota // G_OPTION_ARG_NONE
	argString                 // G_OPTION_ARG_STRING
	argStrings                // G_OPTION_ARG_STRING_ARRAY: repeatable, accumulates
	argInt32                  // G_OPTION_ARG_INT: strtol, must fit a C int
	argInt64                  // G_OPTION_ARG_INT64: strtoll
)

// option is one GOptionEntry. Exactly one target pointer matching kind is
// set; set (optional) records that a string option was given at all, since
// conmon tells a NULL pointer from an empty string.
type option struct {
	long   string
	short  byte // 0 = none
	kind   argKind
	desc   string // HEAD conmon's --help text
	hidden bool   // G_OPTION_FLAG_HIDDEN in conmon (deprecated aliases)

	// Targets, as fields of Config (see at); 0 means none.
	flag, str, set, list, i32, i64 at
}

// at names a field of Config by its offset plus one, 0 meaning none. The
// table below is then a constant the linker lays out in the binary rather
// than a 4.8 KiB slice built at every start, which would keep pages of a
// heap size class of its own resident in every idle monitor (docs/memory.md).
type at uintptr

// c0 only gives unsafe.Offsetof a Config to name fields of.
var c0 Config

// field returns the field of c that a names, as a *T; a must be a field of
// type T (the table's kinds say which).
func field[T any](c *Config, a at) *T {
	return (*T)(unsafe.Add(unsafe.Pointer(c), uintptr(a)-1))
}

// optionTable lists every option conmon HEAD accepts plus 2.1.6's seccomp
// options, in HEAD's declaration order (which is also --help's order), bound
// to the fields of Config. Aliases share storage by pointing at the same field.
var options = [...]option{
	{long: "api-version", kind: argFlag, flag: at(unsafe.Offsetof(c0.APIVersion) + 1), desc: "Conmon API version to use"},
	{long: "bundle", short: 'b', kind: argString, str: at(unsafe.Offsetof(c0.Bundle) + 1), set: at(unsafe.Offsetof(c0.BundleSet) + 1), desc: "Location of the OCI Bundle path"},
	{long: "cid", short: 'c', kind: argString, str: at(unsafe.Offsetof(c0.Cid) + 1), set: at(unsafe.Offsetof(c0.CidSet) + 1), desc: "Identification of Container"},
	{long: "conmon-pidfile", short: 'P', kind: argString, str: at(unsafe.Offsetof(c0.ConmonPidfile) + 1), desc: "PID file for the conmon process"},
	{long: "container-pidfile", short: 'p', kind: argString, str: at(unsafe.Offsetof(c0.ContainerPidfile) + 1), set: at(unsafe.Offsetof(c0.ContainerPidfileSet) + 1), desc: "PID file for the initial pid inside of container"},
	{long: "cuuid", short: 'u', kind: argString, str: at(unsafe.Offsetof(c0.Cuuid) + 1), set: at(unsafe.Offsetof(c0.CuuidSet) + 1), desc: "Container UUID"},
	{long: "exec", short: 'e', kind: argFlag, flag: at(unsafe.Offsetof(c0.Exec) + 1), desc: "Exec a command into a running container"},
	{long: "exec-attach", kind: argFlag, flag: at(unsafe.Offsetof(c0.ExecAttach) + 1), desc: "Attach to an exec session"},
	{long: "exec-process-spec", kind: argString, str: at(unsafe.Offsetof(c0.ExecProcessSpec) + 1), set: at(unsafe.Offsetof(c0.ExecSpecSet) + 1), desc: "Path to the process spec for execution"},
	{long: "exit-command", kind: argString, str: at(unsafe.Offsetof(c0.ExitCommand) + 1), desc: "Path to the program to execute when the container terminates its execution"},
	{long: "exit-command-arg", kind: argStrings, list: at(unsafe.Offsetof(c0.ExitCommandArgs) + 1), desc: "Additional arg to pass to the exit command.  Can be specified multiple times"},
	{long: "exit-delay", kind: argInt32, i32: at(unsafe.Offsetof(c0.ExitDelay) + 1), desc: "Delay before invoking the exit command (in seconds)"},
	{long: "exit-dir", kind: argString, str: at(unsafe.Offsetof(c0.ExitDir) + 1), desc: "Path to the directory where exit files are written"},
	{long: "leave-stdin-open", kind: argFlag, flag: at(unsafe.Offsetof(c0.LeaveStdinOpen) + 1), desc: "Leave stdin open when attached client disconnects"},
	{long: "log-level", kind: argString, str: at(unsafe.Offsetof(c0.LogLevel) + 1), set: at(unsafe.Offsetof(c0.LogLevelSet) + 1), desc: "Print debug logs based on log level"},
	{long: "log-path", short: 'l', kind: argStrings, list: at(unsafe.Offsetof(c0.LogPaths) + 1), desc: "Log file path"},
	{long: "log-size-max", kind: argInt64, i64: at(unsafe.Offsetof(c0.LogSizeMax) + 1), desc: "Maximum size of log file"},
	{long: "log-global-size-max", kind: argInt64, i64: at(unsafe.Offsetof(c0.LogGlobalSizeMax) + 1), desc: "Maximum size of all log files"},
	{long: "log-tag", kind: argString, str: at(unsafe.Offsetof(c0.LogTag) + 1), set: at(unsafe.Offsetof(c0.LogTagSet) + 1), desc: "Additional tag to use for logging"},
	{long: "log-label", kind: argStrings, list: at(unsafe.Offsetof(c0.LogLabels) + 1), desc: "Additional label to include in logs. Can be specified multiple times"},
	{long: "no-container-partial-message", kind: argFlag, flag: at(unsafe.Offsetof(c0.NoContainerPartial) + 1), desc: "Do not set CONTAINER_PARTIAL_MESSAGE=true on partial lines sent to journald"},
	{long: "log-rotate", kind: argFlag, flag: at(unsafe.Offsetof(c0.LogRotate) + 1), desc: "Rotate the log file instead of truncating it when --log-size-max is reached"},
	{long: "log-max-files", kind: argInt32, i32: at(unsafe.Offsetof(c0.LogMaxFiles) + 1), desc: "Number of rotated log files to keep (default: 1)"},
	{long: "log-allowlist-dir", kind: argStrings, list: at(unsafe.Offsetof(c0.LogAllowlistDirs) + 1), desc: "Allowed log directory. Can be specified multiple times"},
	{long: "name", short: 'n', kind: argString, str: at(unsafe.Offsetof(c0.Name) + 1), set: at(unsafe.Offsetof(c0.NameSet) + 1), desc: "Container name"},
	{long: "no-new-keyring", kind: argFlag, flag: at(unsafe.Offsetof(c0.NoNewKeyring) + 1), desc: "Do not create a new session keyring for the container"},
	{long: "no-pivot", kind: argFlag, flag: at(unsafe.Offsetof(c0.NoPivot) + 1), desc: "Do not use pivot_root"},
	{long: "no-sync-log", kind: argFlag, flag: at(unsafe.Offsetof(c0.NoSyncLog) + 1), desc: "Do not manually call sync on logs after container shutdown"},
	{long: "persist-dir", short: '0', kind: argString, str: at(unsafe.Offsetof(c0.PersistDir) + 1), desc: "Persistent directory for a container that can be used for storing container data"},
	{long: "pidfile", kind: argString, str: at(unsafe.Offsetof(c0.ContainerPidfile) + 1), set: at(unsafe.Offsetof(c0.ContainerPidfileSet) + 1), hidden: true, desc: "PID file (DEPRECATED)"},
	{long: "replace-listen-pid", kind: argFlag, flag: at(unsafe.Offsetof(c0.ReplaceListenPid) + 1), desc: "Replace listen pid if set for oci-runtime pid"},
	{long: "restore", kind: argString, str: at(unsafe.Offsetof(c0.Restore) + 1), set: at(unsafe.Offsetof(c0.RestoreSet) + 1), desc: "Restore a container from a checkpoint"},
	{long: "restore-arg", kind: argStrings, list: at(unsafe.Offsetof(c0.RuntimeOpts) + 1), hidden: true, desc: "Additional arg to pass to the restore command. Can be specified multiple times. (DEPRECATED)"},
	{long: "runtime", short: 'r', kind: argString, str: at(unsafe.Offsetof(c0.Runtime) + 1), set: at(unsafe.Offsetof(c0.RuntimeSet) + 1), desc: "Path to store runtime data for the container"},
	{long: "runtime-arg", kind: argStrings, list: at(unsafe.Offsetof(c0.RuntimeArgs) + 1), desc: "Additional arg to pass to the runtime. Can be specified multiple times"},
	{long: "runtime-opt", kind: argStrings, list: at(unsafe.Offsetof(c0.RuntimeOpts) + 1), desc: "Additional opts to pass to the restore or exec command. Can be specified multiple times"},
	{long: "sdnotify-socket", kind: argString, str: at(unsafe.Offsetof(c0.SdnotifySocket) + 1), desc: "Path to the host's sd-notify socket to relay messages to"},
	{long: "socket-dir-path", kind: argString, str: at(unsafe.Offsetof(c0.SocketDirPath) + 1), desc: "Location of container attach sockets"},
	{long: "stdin", short: 'i', kind: argFlag, flag: at(unsafe.Offsetof(c0.Stdin) + 1), desc: "Open up a pipe to pass stdin to the container"},
	{long: "sync", kind: argFlag, flag: at(unsafe.Offsetof(c0.Sync) + 1), desc: "Keep the main conmon process as its child by only forking once"},
	{long: "syslog", kind: argFlag, flag: at(unsafe.Offsetof(c0.Syslog) + 1), desc: "Log to syslog (use with cgroupfs cgroup manager)"},
	{long: "systemd-cgroup", short: 's', kind: argFlag, flag: at(unsafe.Offsetof(c0.SystemdCgroup) + 1), desc: "Enable systemd cgroup manager, rather then use the cgroupfs directly"},
	{long: "terminal", short: 't', kind: argFlag, flag: at(unsafe.Offsetof(c0.Terminal) + 1), desc: "Allocate a pseudo-TTY. The default is false"},
	{long: "timeout", short: 'T', kind: argInt32, i32: at(unsafe.Offsetof(c0.Timeout) + 1), desc: "Kill container after specified timeout in seconds."},
	{long: "version", kind: argFlag, flag: at(unsafe.Offsetof(c0.Version) + 1), desc: "Print the version and exit"},
	{long: "full-attach", kind: argFlag, flag: at(unsafe.Offsetof(c0.FullAttach) + 1), desc: "Don't truncate the path to the attach socket. This option causes conmon to ignore --socket-dir-path"},
	// 2.1.6 only (removed upstream); accepted so old engine configs keep
	// working, and otherwise ignored.
	{long: "seccomp-notify-socket", kind: argString, str: at(unsafe.Offsetof(c0.SeccompNotifySocket) + 1), desc: "Path to the socket where the seccomp notification fd is received"},
	{long: "seccomp-notify-plugins", kind: argString, str: at(unsafe.Offsetof(c0.SeccompNotifyPlugins) + 1), desc: "Plugins to use for managing the seccomp notifications"},
}

// optionTable is the table of every option.
func optionTable() []option { return options[:] }

// newConfig returns a Config holding conmon's defaults (§1.2). Defaults that
// depend on the working directory are filled in by ValidateEarly.
func newConfig() *Config {
	return &Config{
		LogSizeMax:       -1,
		LogGlobalSizeMax: -1,
		LogMaxFiles:      1,
		SocketDirPath:    "/var/run/crio",
		// LogLevel "" (not set) means warning.
	}
}

// optionError is a GOption parse failure; Error() is GLib's detail text,
// e.g. "Unknown option --bogus". ParseErrorText adds conmon's wording.
type optionError struct{ detail string }

func (e *optionError) Error() string { return e.detail }

func optErrorf(format string, args ...any) error {
	return &optionError{detail: fmt.Sprintf(format, args...)}
}

// ParseErrorText is the line conmon prints (HEAD: on stderr, then exit 1)
// when option parsing fails.
func ParseErrorText(err error) string {
	return cabi.PlainPrefix + "option parsing failed: " + err.Error()
}

// parser walks the words of one command line.
type parser struct {
	cfg  *Config
	opts []option
	args []string
}

// Parse parses args (os.Args[1:]) with GOption semantics. When a help
// option is met, parsing stops at once and cfg.Help is set: GLib prints the
// help and exits 0 right there, so later words are never looked at, while
// errors in earlier words are still reported.
func Parse(args []string) (*Config, error) {
	cfg := newConfig()
	p := &parser{cfg: cfg, opts: optionTable(), args: args}
	for i := 0; i < len(args); i++ {
		w := args[i]
		if len(w) < 2 || w[0] != '-' {
			continue // stray word, "" or a lone "-": ignored
		}
		if w == "--" {
			break // ends option parsing; the rest is ignored
		}
		var err error
		if w[1] == '-' {
			i, err = p.long(i)
		} else {
			i, err = p.shortCluster(i)
		}
		if err != nil {
			return nil, err
		}
		if cfg.Help {
			return cfg, nil
		}
	}
	return cfg, nil
}

// long handles the word args[i] = "--name" or "--name=value" and returns the
// index of the last word it consumed.
func (p *parser) long(i int) (int, error) {
	word := p.args[i]
	name, value, hasValue := strings.Cut(word[2:], "=")
	if !hasValue && (name == "help" || name == "help-all") {
		p.cfg.Help = true
		return i, nil
	}
	o := p.byLong(name)
	if o == nil {
		return i, optErrorf("Unknown option %s", word)
	}
	optName := "--" + o.long
	if o.kind == argFlag {
		*field[bool](p.cfg, o.flag) = true // GLib ignores the value of "--flag=VALUE"
		return i, nil
	}
	if !hasValue {
		if i+1 >= len(p.args) {
			return i, optErrorf("Missing argument for %s", optName)
		}
		i++
		value = p.args[i]
	}
	return i, o.apply(p.cfg, value, optName)
}

// shortCluster handles "-x" and clusters such as "-it" or "-itc ID". A
// value-taking letter takes the next word, never the rest of the cluster;
// only one letter per cluster may take a value.
func (p *parser) shortCluster(i int) (int, error) {
	word := p.args[i]
	next := i
	for j := 1; j < len(word); j++ {
		c := word[j]
		if c == '?' || c == 'h' { // GLib's built-in help letters
			p.cfg.Help = true
			return next, nil
		}
		o := p.byShort(c)
		if o == nil {
			return i, optErrorf("Unknown option %s", word)
		}
		optName := "-" + string(c)
		if o.kind == argFlag {
			*field[bool](p.cfg, o.flag) = true
			continue
		}
		if next > i {
			return i, optErrorf("Error parsing option %s", optName)
		}
		if i+1 >= len(p.args) {
			return i, optErrorf("Missing argument for %s", optName)
		}
		next = i + 1
		if err := o.apply(p.cfg, p.args[next], optName); err != nil {
			return i, err
		}
	}
	return next, nil
}

func (p *parser) byLong(name string) *option {
	for k := range p.opts {
		if p.opts[k].long == name {
			return &p.opts[k]
		}
	}
	return nil
}

func (p *parser) byShort(c byte) *option {
	for k := range p.opts {
		if p.opts[k].short == c {
			return &p.opts[k]
		}
	}
	return nil
}

// apply stores value into the option's field. optName is the option as
// typed ("-T" or "--timeout"), which GLib uses in integer errors.
func (o *option) apply(c *Config, value, optName string) error {
	switch o.kind {
	case argString:
		*field[string](c, o.str) = value
		if o.set != 0 {
			*field[bool](c, o.set) = true
		}
	case argStrings:
		list := field[[]string](c, o.list)
		*list = append(*list, value)
	case argInt32:
		n, err := parseCInt(value, optName, 32)
		if err != nil {
			return err
		}
		*field[int32](c, o.i32) = int32(n)
	case argInt64:
		n, err := parseCInt(value, optName, 64)
		if err != nil {
			return err
		}
		*field[int64](c, o.i64) = n
	}
	return nil
}

// parseCInt converts word as GLib does for integer options: C strtol (I
// options, then checked to fit a 32-bit int) or strtoll (L options) with
// base 0 over the whole word. Leading C white space and one sign are
// allowed; "0x"/"0X" selects hex, a leading 0 octal. An empty word, a word
// without digits or any trailing byte is unparsable; overflow is reported
// after the whole word proved to be a number, as GLib checks in that order.
func parseCInt(word, optName string, bits int) (int64, error) {
	v, end, errno := cabi.Strtol(word, 0)
	if end == 0 || end != len(word) {
		return 0, optErrorf("Cannot parse integer value \u201c%s\u201d for %s", word, optName)
	}
	if errno != 0 || (bits == 32 && (v < math.MinInt32 || v > math.MaxInt32)) {
		return 0, optErrorf("Integer value \u201c%s\u201d for %s out of range", word, optName)
	}
	return v, nil
}
