package main

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/cio"
	"github.com/shim-project/shim/cli"
	"github.com/shim-project/shim/exitcode"
	"github.com/shim-project/shim/internal/diag"
	"github.com/shim-project/shim/metrics"
	"github.com/shim-project/shim/monitor"
	"github.com/shim-project/shim/notify"
	"github.com/shim-project/shim/oom"
	"github.com/shim-project/shim/settings"
)

// daemon is the wiring of the long-lived monitor: it builds the parts from
// the parsed command line and hands over to package monitor.
type daemon struct {
	cfg   *cli.Config
	lg    *diag.Logger
	setup *setup
	fds   *engineFds
	io    *cio.IO
	mon   *monitor.Monitor
	stats *metrics.Container // SHIM_METRICS (metrics.go); nil, every hook a no-op, when off
	oom   *oom.Watcher       // nil until the container pid is known, or if unwatchable

	settings settings.Settings // §16.4
}

// runMonitor runs the daemon part and returns the process exit status.
func runMonitor(cfg *cli.Config, st *setup, lg *diag.Logger, inherited []int, oldAdj string) int {
	d := &daemon{cfg: cfg, lg: lg, setup: st}
	if cfg.SdnotifySocket != "" {
		// Right after the fork, as conmon: podman passes MAINPID=<our pid>
		// to systemd, so the relay must be this process (§12.1).
		if _, err := notify.Start(cfg.Bundle, cfg.SdnotifySocket, lg); err != nil {
			lg.Errorf("%v", err)
			return 1
		}
	}
	d.applySettings()
	fds, err := openEngineFds(cfg, inherited)
	if err != nil {
		lg.Errorf("%v", err)
		return 1
	}
	d.fds = fds
	if !st.passthrough {
		detachStdio()
		lg.SetStderr(discard{})
	}
	_, _ = unix.Setsid() // fails harmlessly with --sync (engines use Setpgid)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		// Only debug, like oom_score_adj: nothing here may need privileges
		// (rootless podman), and an init that is not our child is still
		// waited for (§3.3).
		lg.Debugf("Failed to set as subreaper: %v", err)
	}
	d.io = cio.New(cio.Options{
		Terminal: cfg.Terminal, Stdin: cfg.Stdin, Passthrough: st.passthrough,
		KeepPipeSize: d.settings.LogRate > 0 && d.settings.LogPolicy == settings.Block,
		Scrollback:   int(d.settings.Scrollback),
		Logs:         st.logs, Log: lg,
		Bundle: cfg.Bundle, SocketDir: cfg.SocketDirPath, Cuuid: cfg.Cuuid,
		FullAttach: cfg.FullAttach, LeaveStdinOpen: cfg.LeaveStdinOpen,
		// Called only once output flows, after d.mon is set.
		Exiting: func() bool { return d.mon.Exiting() }, Resize: d.countResizes,
		Quiet: newHeapReturn().quiet,
	})
	d.mon = monitor.New(d.monitorConfig(oldAdj), monitor.Parts{
		Log: lg, Sync: fds.sync, IO: d.io, Watch: d, Release: fds.closeInherited,
	})
	setupErr := d.io.Open()
	if setupErr == nil {
		d.startMetrics()
		if fds.attachPipe != nil {
			if err := fds.attachPipe.Send(0, ""); err != nil {
				lg.Errorf("%v", err)
			}
		}
	}
	_, status := d.mon.Run(&runtimeCmd{d: d, oldAdj: oldAdj}, setupErr)
	return status
}

func (d *daemon) monitorConfig(oldAdj string) monitor.Config {
	c := d.cfg
	mc := monitor.Config{
		Exec: c.Exec, ReportPid: c.APIVersion || !c.Exec, PidFile: c.ContainerPidfile,
		Timeout:    time.Duration(c.Timeout) * time.Second,
		ExitFiles:  exitcode.Files{PersistDir: c.PersistDir, ExitDir: c.ExitDir, Cid: c.Cid},
		NoSyncLogs: c.NoSyncLog, ExitDelay: time.Duration(c.ExitDelay) * time.Second,
		OOMScoreAdj: oldAdj,
	}
	if !c.Exec {
		// An exec session's -b is its container's bundle, whose exit.json
		// is the container's own.
		mc.ExitFiles.Bundle = c.Bundle
	}
	if c.ExitCommand != "" {
		mc.ExitCommand = &exitcode.Command{Path: c.ExitCommand, Args: c.ExitCommandArgs}
	}
	return mc
}

// Running starts the OOM watch, unless there is nowhere to record an OOM
// (legacy exec, CRI-O ExecSync), and the metrics' view of it.
func (d *daemon) Running(ctr int) {
	if d.cfg.PersistDir != "" || d.cfg.Bundle != "" {
		d.oom = oom.Start(ctr, d.lg, d.cfg.PersistDir, d.cfg.Bundle)
	}
	d.stats.Started(d.oom)
}

func (d *daemon) Final() { d.oom.Final() }

// Record fills in exit.json's OOM verdict (d.oom.Final's, read before the
// cgroup can vanish), log totals and the monitor's peak memory (§16.3).
func (d *daemon) Record(r *exitcode.Record) {
	r.OOMKilled = d.oom.Final()
	logged := d.setup.logs.Logged()
	for i, sr := range []*exitcode.StreamRecord{&r.Logs.Stdout, &r.Logs.Stderr} {
		l := logged[i]
		*sr = exitcode.StreamRecord{LoggedBytes: l.Bytes, LoggedLines: l.Lines,
			DroppedBytes: l.DroppedBytes, DroppedLines: l.DroppedLines}
	}
	r.MonitorPeakRSS, _ = metrics.PeakResidentBytes()
}
func (d *daemon) Exited(status int) { d.stats.Exited(status) }
func (d *daemon) Close()            { d.stats.Close() }

// detachStdio points fds 0-2 at /dev/null: engines Wait() on our stdout and
// stderr pipes until every copy is closed (§3.1 step 6).
func detachStdio() {
	null, err := unix.Open("/dev/null", unix.O_RDWR, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		_ = unix.Dup2(null, fd)
	}
	if null > 2 {
		unix.Close(null)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
