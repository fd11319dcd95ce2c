// Package cio owns the container's I/O: the stdio layout handed to the
// runtime (pipes, or a console socket for a terminal), the reading of the
// container's output, and the sink that feeds every chunk to the log
// drivers and then to the attach clients. The attach socket and the ctl
// and winsz FIFOs are opened here too, since they are the other ends of the
// same streams.
//
//	container ─stdout/stderr pipes or pty master─▶ reader ─▶ sink ─▶ logs
//	                                                              └─▶ attach clients
//	attach clients ─▶ container stdin      ctl FIFO ─▶ resize, reopen logs
package cio

import (
	"time"

	"github.com/shim-project/shim/attach"
	"github.com/shim-project/shim/logs"
)

// Logger takes the monitor's diagnostics (§12.3).
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

// Options describe the container's I/O.
type Options struct {
	Terminal    bool // -t: a pty, received over a console socket
	Stdin       bool // -i: the container gets a stdin to write to
	Passthrough bool // -l passthrough: the runtime gets our own fds 0-2
	// KeepPipeSize leaves the output pipes at the kernel's size (a
	// blocking log rate limit, §16.5).
	KeepPipeSize bool
	// Scrollback: bytes of output kept for new attach clients (§16.6).
	Scrollback int

	Logs *logs.Writer // the log drivers, already open
	Log  Logger

	// The attach socket and FIFOs, made only with a bundle and without
	// passthrough.
	Bundle         string
	SocketDir      string
	Cuuid          string
	FullAttach     bool
	LeaveStdinOpen bool
	// Exiting reports that the container is gone: a client that takes
	// nothing may then hold the final drain for the flush bound only.
	Exiting func() bool
	// Resize wraps the terminal's resize (the metrics count resizes); nil
	// leaves it as it is.
	Resize func(func(rows, cols uint16) error) func(rows, cols uint16) error
	// Quiet runs when the container's output paused after a burst, once
	// the log and read buffers went back to the kernel (see
	// Poller.OnQuiet); nil for nothing more.
	Quiet func()
}

// IO is one container's I/O. Its lifecycle: Open before the runtime runs;
// ChildFds for the runtime; CloseChildEnds once it has them; after create,
// ReceiveConsole (with -t) and StartOutput; at exit StopOutput, then
// CloseAttach, Unlink and RemoveSymlink in the order of §11.1.
type IO struct {
	o     Options
	std   *stdio
	sink  *sink
	srv   *attach.Server
	fifos *attach.FIFOs
}

// New prepares the I/O; nothing is opened until Open.
func New(o Options) *IO {
	return &IO{o: o, sink: newSink(o.Logs, o.Log, o.Quiet)}
}

// Open creates the runtime's stdio and, with a bundle, the attach socket
// and the FIFOs: they must exist before the runtime runs (podman connects
// before `runtime start`). After an error, StopOutput still releases what
// was made.
func (c *IO) Open() error {
	var err error
	if c.std, err = newStdio(c.o); err != nil {
		return err
	}
	if c.o.Bundle == "" || c.o.Passthrough {
		return nil
	}
	o := c.o
	opts := attach.Options{
		Bundle: o.Bundle, FullAttach: o.FullAttach, SocketDir: o.SocketDir, Cuuid: o.Cuuid,
		Stdin: o.Stdin, Terminal: o.Terminal, LeaveStdinOpen: o.LeaveStdinOpen,
		CloseStdin: c.std.closeStdin, Logger: o.Log, Exiting: o.Exiting,
		Scrollback: o.Scrollback,
	}
	if c.std.stdin != nil {
		opts.Input = c.std.stdin
	}
	if c.srv, err = attach.Listen(opts); err != nil {
		return err
	}
	c.sink.srv = c.srv
	c.fifos, err = attach.OpenFIFOs(attach.FIFOOptions{
		Bundle: o.Bundle, Terminal: o.Terminal, Reopen: c.sink.reopen, Logger: o.Log, Quiet: o.Quiet,
	})
	return err
}

// Server is the attach socket, nil when there is none.
func (c *IO) Server() *attach.Server { return c.srv }

// ChildFds are the runtime's fds 0, 1 and 2 (§6.3).
func (c *IO) ChildFds() [3]int { return c.std.child }

// ConsolePath is the console socket for the runtime's --console-socket, ""
// without a terminal.
func (c *IO) ConsolePath() string {
	if c.std.console == nil {
		return ""
	}
	return c.std.console.Path()
}

// CloseChildEnds drops our copies of the ends the runtime now holds, so EOF
// arrives when the container's last writer is gone.
func (c *IO) CloseChildEnds() { c.std.closeChildEnds() }

// RuntimeStderr is what the runtime wrote to the stderr pipe (§5.2).
func (c *IO) RuntimeStderr() string { return c.std.runtimeStderr() }

// HasConsole reports whether the runtime is to send a pty master.
func (c *IO) HasConsole() bool { return c.std.console != nil }

// ReceiveConsole takes the pty master the runtime sent to the console socket.
func (c *IO) ReceiveConsole(timeout time.Duration) error { return c.std.receiveConsole(timeout) }

// StartOutput begins copying the container's output once the runtime is
// done, and, with a terminal, attach input and resizes.
func (c *IO) StartOutput() {
	s := c.std
	if t := s.term; t != nil {
		if c.srv != nil {
			c.srv.SetInput(t.File())
		}
		if c.fifos != nil {
			resize := t.Resize
			if c.o.Resize != nil {
				resize = c.o.Resize(resize)
			}
			c.fifos.ServeWinsz(resize)
		}
	}
	if err := s.startOutput(c.sink.write, c.sink.woke, c.sink.idle); err != nil {
		c.o.Log.Errorf("%v", err)
	}
}

// StopOutput ends the reading: with drain, what the container left in its
// pipes is read first (bounded, DrainLimit); without (a timeout), it
// stays there. Then the log drivers are flushed (and fsynced when sync) and
// closed, and the FIFOs closed.
func (c *IO) StopOutput(drain, sync bool) {
	c.sink.stopLimits()
	if c.std != nil && c.std.output != nil {
		if drain {
			c.std.output.Drain(DrainLimit)
		} else {
			c.std.output.Halt()
		}
		_ = c.std.output.Close()
	}
	c.sink.close(sync)
	if c.fifos != nil {
		c.fifos.Close()
	}
	if c.std != nil && c.std.console != nil {
		// Never received when creation failed: its file must not be left
		// in $TMPDIR. (Receive already closed it otherwise.)
		c.std.console.Close()
	}
}

// CloseAttach disconnects the attach clients once their output is flushed
// (bounded); the socket file stays until Unlink.
func (c *IO) CloseAttach() {
	if c.srv != nil {
		c.srv.Close()
	}
}

// Unlink removes the attach socket file.
func (c *IO) Unlink() {
	if c.srv != nil {
		c.srv.Unlink()
	}
}

// RemoveSymlink removes the attach socket's short-path symlink (§8.1).
func (c *IO) RemoveSymlink() {
	if c.srv != nil {
		c.srv.RemoveSymlink()
	}
}
