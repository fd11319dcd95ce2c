package main

import (
	"fmt"

	"github.com/shim-project/shim/cli"
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
func validate(cfg *cli.Config) (*setup, error) {
	if err := cli.ValidateEarly(cfg); err != nil {
		return nil, err
	}
	opts, err := cli.LogOptions(cfg) // row o
	if err != nil {
		return nil, err
	}
	w, err := logs.New(opts) // row p
	if err != nil {
		return nil, fmt.Errorf("%s%v", cabi.ErrorPrefix, err)
	}
	d := w.Drivers()
	if err := cli.ValidateDrivers(cfg, d.K8sFile, d.Journald); err != nil { // rows q-s
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
func partialWarning(cfg *cli.Config, s *setup) string {
	return cli.NoPartialWarning(cfg, s.logs.Drivers().Journald)
}
