package cli

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"
	"github.com/shim-project/shim/logs"
)

// Pre-fork validation (§1.3). The rows run in exactly the
// interface's order and the first failure is the only one reported, because
// engines match on the message of the first failing check. The caller runs
// ValidateEarly, then LogOptions (row o) and logs.New with them (row p,
// which opens the k8s-file), then ValidateDrivers.

// usageError is a validation failure. Error() is the whole line conmon
// prints on stderr (without the newline); the caller prints it and exits 1.
type usageError struct {
	prefix string
	msg    string
}

func (e *usageError) Error() string { return e.prefix + e.msg }

// plainErrorf is for conmon's bare fprintf(stderr) checks (rows c1-c3),
// which run before its logger is set up.
func plainErrorf(format string, args ...any) error {
	return &usageError{prefix: cabi.PlainPrefix, msg: fmt.Sprintf(format, args...)}
}

// logErrorf is for the checks conmon reports with nexit/pexit (rows d on).
func logErrorf(format string, args ...any) error {
	return &usageError{prefix: cabi.ErrorPrefix, msg: fmt.Sprintf(format, args...)}
}

// ValidateEarly runs rows c1-n of §1.3 and then fills the defaults that
// depend on the working directory: Cwd, Bundle (cwd unless --exec) and
// ContainerPidfile (<cwd>/pidfile-<cid>). BundleSet and ContainerPidfileSet
// keep meaning "given on the command line".
func ValidateEarly(cfg *Config) error {
	checks := []func(*Config) error{
		checkLogMaxFiles,  // c1, c2
		checkCid,          // c3
		checkLogLevel,     // d
		checkExecCombos,   // e, f, g
		checkCuuid,        // h
		checkRuntime,      // i, j
		checkExecSpec,     // k
		checkCwd,          // l (also records cfg.Cwd)
		checkExitDelay,    // m
		checkLogPathGiven, // n
	}
	for _, check := range checks {
		if err := check(cfg); err != nil {
			return err
		}
	}
	fillCwdDefaults(cfg)
	return nil
}

func checkLogMaxFiles(cfg *Config) error {
	if cfg.LogMaxFiles < 0 {
		return plainErrorf("log-max-files must be non-negative, got %d", cfg.LogMaxFiles)
	}
	// 0 is accepted without --log-rotate: it only matters when rotating.
	if cfg.LogRotate && cfg.LogMaxFiles == 0 {
		return plainErrorf("log-max-files must be at least 1 when log-rotate is enabled, got %d", cfg.LogMaxFiles)
	}
	return nil
}

func checkCid(cfg *Config) error {
	if !cfg.CidSet { // -c "" is a given (empty) ID, as in C
		return plainErrorf("Container ID not provided. Use --cid")
	}
	return nil
}

// checkLogLevel accepts conmon's level names case-insensitively. A given but
// empty --log-level is an error in conmon ("No such log level " with a
// trailing space); only an absent one means the default, warning.
func checkLogLevel(cfg *Config) error {
	if !cfg.LogLevelSet {
		return nil
	}
	if _, ok := cabi.ParseLevel(cfg.LogLevel); ok {
		return nil
	}
	return logErrorf("No such log level %s", cfg.LogLevel)
}

func checkExecCombos(cfg *Config) error {
	switch {
	case cfg.RestoreSet && cfg.Exec:
		return logErrorf("Cannot use 'exec' and 'restore' at the same time")
	case cfg.ExecAttach && !cfg.Exec:
		return logErrorf("Attach can only be specified with exec")
	case cfg.ExecAttach && !cfg.APIVersion:
		return logErrorf("Attach can only be specified for a non-legacy exec session")
	}
	return nil
}

// checkCuuid: the legacy exec API (CRI-O's ExecSync: -e without
// --api-version) runs without an attach socket and so without a UUID.
func checkCuuid(cfg *Config) error {
	if !cfg.CuuidSet && (!cfg.Exec || cfg.APIVersion) {
		return logErrorf("Container UUID not provided. Use --cuuid")
	}
	return nil
}

// checkRuntime mirrors conmon's access(runtime, X_OK): no PATH search, and a
// directory passes (it has search permission); the failure only shows once
// the daemon tries to execute it.
func checkRuntime(cfg *Config) error {
	if !cfg.RuntimeSet {
		return logErrorf("Runtime path not provided. Use --runtime")
	}
	if err := unix.Access(cfg.Runtime, unix.X_OK); err != nil {
		return logErrorf("Runtime path %s is not valid %s", cfg.Runtime, strerror.Text(err))
	}
	return nil
}

func checkExecSpec(cfg *Config) error {
	if cfg.Exec && !cfg.ExecSpecSet {
		return logErrorf("Exec process spec path not provided. Use --exec-process-spec")
	}
	return nil
}

// checkCwd uses getcwd(2) with a PATH_MAX buffer like conmon, not os.Getwd,
// which may answer from $PWD. It fails when the directory was removed or
// its path is longer than PATH_MAX.
func checkCwd(cfg *Config) error {
	cwd, err := unix.Getwd()
	if err != nil {
		return logErrorf("Failed to get working directory")
	}
	cfg.Cwd = cwd
	return nil
}

func checkExitDelay(cfg *Config) error {
	if cfg.ExitDelay < 0 {
		return logErrorf("Delay before invoking exit command must be greater than or equal to 0")
	}
	return nil
}

func checkLogPathGiven(cfg *Config) error {
	if len(cfg.LogPaths) == 0 {
		return logErrorf("Log driver not provided. Use --log-path")
	}
	return nil
}

// fillCwdDefaults applies §1.2/§6.1 defaults. An exec session keeps an unset
// bundle, as in conmon: for exec, a bundle given by the engine is what asks
// for an attach socket, and the legacy exec API needs none.
func fillCwdDefaults(cfg *Config) {
	if !cfg.BundleSet && !cfg.Exec {
		cfg.Bundle = cfg.Cwd
	}
	if !cfg.ContainerPidfileSet {
		cfg.ContainerPidfile = cfg.Cwd + "/pidfile-" + cfg.Cid
	}
}

// LogOptions runs row o, parsing every -l value, and returns the log
// writer's settings for row p.
func LogOptions(cfg *Config) (logs.Options, error) {
	var specs []logs.Spec
	for _, v := range cfg.LogPaths {
		sp, err := logs.ParseSpec(v)
		if err != nil {
			return logs.Options{}, logErrorf("%v", err)
		}
		specs = append(specs, sp)
	}
	return logs.Options{
		Specs: specs, ContainerID: cfg.Cid, Name: cfg.Name, NameSet: cfg.NameSet,
		Tag: cfg.LogTag, TagSet: cfg.LogTagSet, Labels: cfg.LogLabels,
		SizeMax: cfg.LogSizeMax, GlobalSizeMax: cfg.LogGlobalSizeMax,
		Rotate: cfg.LogRotate, MaxFiles: int(cfg.LogMaxFiles), AllowlistDirs: cfg.LogAllowlistDirs,
		NoPartialMessage: cfg.NoContainerPartial,
	}, nil
}

// ValidateDrivers runs rows q, r and s, given which drivers the -l values
// named (after row p opened the k8s-file, so a failure here leaves the file
// created, as conmon does).
func ValidateDrivers(cfg *Config, hasK8sFile, hasJournald bool) error {
	if hasK8sFile && !hasJournald {
		if cfg.LogTagSet { // even --log-tag "" counts
			return logErrorf("k8s-file doesn't support --log-tag")
		}
		if len(cfg.LogLabels) > 0 {
			return logErrorf("k8s-file doesn't support --log-label")
		}
	}
	if !hasJournald {
		return nil // labels are ignored without journald (e.g. -l none)
	}
	if len(cfg.Cid) <= 12 {
		return logErrorf("Container ID must be longer than 12 characters")
	}
	for _, label := range cfg.LogLabels {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel applies row s's three checks, in order, to one --log-label.
func checkLabel(label string) error {
	if strings.HasPrefix(label, "=") {
		return logErrorf("Container labels must be in format LABEL=VALUE (no LABEL present in '%s')", label)
	}
	if strings.Count(label, "=") != 1 {
		return logErrorf("Container labels must be in format LABEL=VALUE (none or more than one '=' present in '%s')", label)
	}
	name, _, _ := strings.Cut(label, "=")
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return logErrorf("Container label names must contain only uppercase letters, numbers and underscore (in '%s')", label)
		}
	}
	return nil
}

// NoPartialWarning is row t: the whole warning line to print on stderr, or
// "". conmon emits it with nwarn, so it shows at the default level (warning)
// and above but not under --log-level error/fatal/panic; it is never fatal.
func NoPartialWarning(cfg *Config, hasJournald bool) string {
	if cfg.NoContainerPartial && !hasJournald && !errorLevelOnly(cfg.LogLevel) {
		return cabi.WarnPrefix + "--no-container-partial-message has no effect without journald log driver"
	}
	return ""
}

// errorLevelOnly reports whether --log-level silences warnings.
func errorLevelOnly(level string) bool {
	l, ok := cabi.ParseLevel(level)
	return ok && l == cabi.LevelError
}
