package cli

import (
	"fmt"
	"math"
	"strings"

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

	flag *bool
	str  *string
	set  *bool
	list *[]string
	i32  *int32
	i64  *int64
}

// optionTable lists every option conmon HEAD accepts plus 2.1.6's seccomp
// options, in HEAD's declaration order (which is also --help's order), bound
// to the fields of c. Aliases share storage by pointing at the same field.
func optionTable(c *Config) []option {
	return []option{
		{long: "api-version", kind: argFlag, flag: &c.APIVersion, desc: "Conmon API version to use"},
		{long: "bundle", short: 'b', kind: argString, str: &c.Bundle, set: &c.BundleSet, desc: "Location of the OCI Bundle path"},
		{long: "cid", short: 'c', kind: argString, str: &c.Cid, set: &c.CidSet, desc: "Identification of Container"},
		{long: "conmon-pidfile", short: 'P', kind: argString, str: &c.ConmonPidfile, desc: "PID file for the conmon process"},
		{long: "container-pidfile", short: 'p', kind: argString, str: &c.ContainerPidfile, set: &c.ContainerPidfileSet, desc: "PID file for the initial pid inside of container"},
		{long: "cuuid", short: 'u', kind: argString, str: &c.Cuuid, set: &c.CuuidSet, desc: "Container UUID"},
		{long: "exec", short: 'e', kind: argFlag, flag: &c.Exec, desc: "Exec a command into a running container"},
		{long: "exec-attach", kind: argFlag, flag: &c.ExecAttach, desc: "Attach to an exec session"},
		{long: "exec-process-spec", kind: argString, str: &c.ExecProcessSpec, set: &c.ExecSpecSet, desc: "Path to the process spec for execution"},
		{long: "exit-command", kind: argString, str: &c.ExitCommand, desc: "Path to the program to execute when the container terminates its execution"},
		{long: "exit-command-arg", kind: argStrings, list: &c.ExitCommandArgs, desc: "Additional arg to pass to the exit command.  Can be specified multiple times"},
		{long: "exit-delay", kind: argInt32, i32: &c.ExitDelay, desc: "Delay before invoking the exit command (in seconds)"},
		{long: "exit-dir", kind: argString, str: &c.ExitDir, desc: "Path to the directory where exit files are written"},
		{long: "leave-stdin-open", kind: argFlag, flag: &c.LeaveStdinOpen, desc: "Leave stdin open when attached client disconnects"},
		{long: "log-level", kind: argString, str: &c.LogLevel, set: &c.LogLevelSet, desc: "Print debug logs based on log level"},
		{long: "log-path", short: 'l', kind: argStrings, list: &c.LogPaths, desc: "Log file path"},
		{long: "log-size-max", kind: argInt64, i64: &c.LogSizeMax, desc: "Maximum size of log file"},
		{long: "log-global-size-max", kind: argInt64, i64: &c.LogGlobalSizeMax, desc: "Maximum size of all log files"},
		{long: "log-tag", kind: argString, str: &c.LogTag, set: &c.LogTagSet, desc: "Additional tag to use for logging"},
		{long: "log-label", kind: argStrings, list: &c.LogLabels, desc: "Additional label to include in logs. Can be specified multiple times"},
		{long: "no-container-partial-message", kind: argFlag, flag: &c.NoContainerPartial, desc: "Do not set CONTAINER_PARTIAL_MESSAGE=true on partial lines sent to journald"},
		{long: "log-rotate", kind: argFlag, flag: &c.LogRotate, desc: "Rotate the log file instead of truncating it when --log-size-max is reached"},
		{long: "log-max-files", kind: argInt32, i32: &c.LogMaxFiles, desc: "Number of rotated log files to keep (default: 1)"},
		{long: "log-allowlist-dir", kind: argStrings, list: &c.LogAllowlistDirs, desc: "Allowed log directory. Can be specified multiple times"},
		{long: "name", short: 'n', kind: argString, str: &c.Name, set: &c.NameSet, desc: "Container name"},
		{long: "no-new-keyring", kind: argFlag, flag: &c.NoNewKeyring, desc: "Do not create a new session keyring for the container"},
		{long: "no-pivot", kind: argFlag, flag: &c.NoPivot, desc: "Do not use pivot_root"},
		{long: "no-sync-log", kind: argFlag, flag: &c.NoSyncLog, desc: "Do not manually call sync on logs after container shutdown"},
		{long: "persist-dir", short: '0', kind: argString, str: &c.PersistDir, desc: "Persistent directory for a container that can be used for storing container data"},
		{long: "pidfile", kind: argString, str: &c.ContainerPidfile, set: &c.ContainerPidfileSet, hidden: true, desc: "PID file (DEPRECATED)"},
		{long: "replace-listen-pid", kind: argFlag, flag: &c.ReplaceListenPid, desc: "Replace listen pid if set for oci-runtime pid"},
		{long: "restore", kind: argString, str: &c.Restore, set: &c.RestoreSet, desc: "Restore a container from a checkpoint"},
		{long: "restore-arg", kind: argStrings, list: &c.RuntimeOpts, hidden: true, desc: "Additional arg to pass to the restore command. Can be specified multiple times. (DEPRECATED)"},
		{long: "runtime", short: 'r', kind: argString, str: &c.Runtime, set: &c.RuntimeSet, desc: "Path to store runtime data for the container"},
		{long: "runtime-arg", kind: argStrings, list: &c.RuntimeArgs, desc: "Additional arg to pass to the runtime. Can be specified multiple times"},
		{long: "runtime-opt", kind: argStrings, list: &c.RuntimeOpts, desc: "Additional opts to pass to the restore or exec command. Can be specified multiple times"},
		{long: "sdnotify-socket", kind: argString, str: &c.SdnotifySocket, desc: "Path to the host's sd-notify socket to relay messages to"},
		{long: "socket-dir-path", kind: argString, str: &c.SocketDirPath, desc: "Location of container attach sockets"},
		{long: "stdin", short: 'i', kind: argFlag, flag: &c.Stdin, desc: "Open up a pipe to pass stdin to the container"},
		{long: "sync", kind: argFlag, flag: &c.Sync, desc: "Keep the main conmon process as its child by only forking once"},
		{long: "syslog", kind: argFlag, flag: &c.Syslog, desc: "Log to syslog (use with cgroupfs cgroup manager)"},
		{long: "systemd-cgroup", short: 's', kind: argFlag, flag: &c.SystemdCgroup, desc: "Enable systemd cgroup manager, rather then use the cgroupfs directly"},
		{long: "terminal", short: 't', kind: argFlag, flag: &c.Terminal, desc: "Allocate a pseudo-TTY. The default is false"},
		{long: "timeout", short: 'T', kind: argInt32, i32: &c.Timeout, desc: "Kill container after specified timeout in seconds."},
		{long: "version", kind: argFlag, flag: &c.Version, desc: "Print the version and exit"},
		{long: "full-attach", kind: argFlag, flag: &c.FullAttach, desc: "Don't truncate the path to the attach socket. This option causes conmon to ignore --socket-dir-path"},
		// 2.1.6 only (removed upstream); accepted so old engine configs keep
		// working, and otherwise ignored.
		{long: "seccomp-notify-socket", kind: argString, str: &c.SeccompNotifySocket, desc: "Path to the socket where the seccomp notification fd is received"},
		{long: "seccomp-notify-plugins", kind: argString, str: &c.SeccompNotifyPlugins, desc: "Plugins to use for managing the seccomp notifications"},
	}
}

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
	p := &parser{cfg: cfg, opts: optionTable(cfg), args: args}
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
		*o.flag = true // GLib ignores the value of "--flag=VALUE"
		return i, nil
	}
	if !hasValue {
		if i+1 >= len(p.args) {
			return i, optErrorf("Missing argument for %s", optName)
		}
		i++
		value = p.args[i]
	}
	return i, o.apply(value, optName)
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
			*o.flag = true
			continue
		}
		if next > i {
			return i, optErrorf("Error parsing option %s", optName)
		}
		if i+1 >= len(p.args) {
			return i, optErrorf("Missing argument for %s", optName)
		}
		next = i + 1
		if err := o.apply(p.args[next], optName); err != nil {
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
func (o *option) apply(value, optName string) error {
	switch o.kind {
	case argString:
		*o.str = value
		if o.set != nil {
			*o.set = true
		}
	case argStrings:
		*o.list = append(*o.list, value)
	case argInt32:
		n, err := parseCInt(value, optName, 32)
		if err != nil {
			return err
		}
		*o.i32 = int32(n)
	case argInt64:
		n, err := parseCInt(value, optName, 64)
		if err != nil {
			return err
		}
		*o.i64 = n
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
