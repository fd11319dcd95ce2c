package main

import (
	"fmt"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/logs"
)

// setup is what validation produced: the parsed log drivers with the
// k8s-file already open (conmon opens it before forking, §1.3 row p).
type setup struct {
	logs        *logs.Writer
	passthrough bool
}

// validate runs every pre-fork check of §1.3 in its order; the first failure
// is the only one reported.
func validate(cfg *config) (*setup, error) {
	if err := validateEarly(cfg); err != nil {
		return nil, err
	}
	var specs []logs.Spec
	for _, v := range cfg.LogPaths { // row o
		sp, err := logs.ParseSpec(v)
		if err != nil {
			return nil, fmt.Errorf("%s%v", cabi.ErrorPrefix, err)
		}
		specs = append(specs, sp)
	}
	w, err := logs.New(logs.Options{ // row p
		Specs: specs, ContainerID: cfg.Cid, Name: cfg.Name, NameSet: cfg.NameSet,
		Tag: cfg.LogTag, TagSet: cfg.LogTagSet, Labels: cfg.LogLabels,
		SizeMax: cfg.LogSizeMax, GlobalSizeMax: cfg.LogGlobalSizeMax,
		Rotate: cfg.LogRotate, MaxFiles: int(cfg.LogMaxFiles), AllowlistDirs: cfg.LogAllowlistDirs,
		NoPartialMessage: cfg.NoContainerPartial,
	})
	if err != nil {
		return nil, fmt.Errorf("%s%v", cabi.ErrorPrefix, err)
	}
	d := w.Drivers()
	if err := validateDrivers(cfg, d.K8sFile, d.Journald); err != nil { // rows q-s
		w.Close(false)
		return nil, err
	}
	return &setup{logs: w, passthrough: d.Passthrough}, nil
}

// Close releases the log files (the first process hands over to the daemon,
// which opens them again).
func (s *setup) Close() {
	s.logs.Close(false)
}

// partialWarning is row t of §1.3: printed, never fatal.
func partialWarning(cfg *config, s *setup) string {
	return noPartialWarning(cfg, s.logs.Drivers().Journald)
}
