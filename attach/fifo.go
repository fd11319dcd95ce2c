package attach

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// FIFOOptions configure OpenFIFOs.
type FIFOOptions struct {
	Bundle string // the FIFOs are <Bundle>/ctl and <Bundle>/winsz
	// Terminal (-t): ctl resizes are queued on the winsz FIFO until
	// ServeWinsz; without a terminal they are validated and ignored, since
	// nothing would ever drain the FIFO.
	Terminal bool
	// Reopen is ctl type 2 (reopen the log files). Like every callback here
	// it runs on the ctl goroutine; the caller synchronises with its loggers.
	Reopen func()
	Logger Logger
	// Quiet runs once a burst of control messages is over (ctlburst.go);
	// nil for nothing.
	Quiet func()
}

// FIFOs are the ctl and winsz FIFOs (§9) and their reader goroutines.
type FIFOs struct {
	log      Logger
	quiet    func() // FIFOOptions.Quiet
	debug    bool   // log wants Debugf lines
	terminal bool
	reopen   func()

	ctlPath, winszPath string
	ctl, winsz         *os.File // read ends: non-blocking, under the poller
	// Dummy writers: the readers never see EOF/HUP and engines can open
	// the FIFOs O_WRONLY|O_NONBLOCK without ENXIO. winszW also carries the
	// resizes that arrive on ctl.
	ctlW, winszW int

	mu       sync.Mutex // guards closed and starting goroutines
	closed   bool
	winszOn  bool
	wg       sync.WaitGroup
	closeErr error
}

// OpenFIFOs (re)creates <bundle>/ctl and <bundle>/winsz with mode 0660 (less
// the umask), opens both, and starts serving ctl.
func OpenFIFOs(opts FIFOOptions) (*FIFOs, error) {
	f := &FIFOs{
		log:       orNop(opts.Logger),
		terminal:  opts.Terminal,
		reopen:    opts.Reopen,
		quiet:     opts.Quiet,
		ctlPath:   filepath.Join(opts.Bundle, "ctl"),
		winszPath: filepath.Join(opts.Bundle, "winsz"),
		ctlW:      -1,
		winszW:    -1,
	}
	if f.reopen == nil {
		f.reopen = func() {}
	}
	var err error
	if f.ctl, f.ctlW, err = openFIFO(f.ctlPath); err != nil {
		return nil, err
	}
	if f.winsz, f.winszW, err = openFIFO(f.winszPath); err != nil {
		f.ctl.Close()
		unix.Close(f.ctlW)
		return nil, err
	}
	f.debug = debugEnabled(f.log)
	h := &ctlHandler{log: f.log, info: infoEnabled(f.log), resize: f.queueResize, reopen: f.reopen}
	f.wg.Add(1)
	go f.serve(f.ctl, h.line)
	return f, nil
}

// CtlPath and WinszPath are the FIFOs' paths.
func (f *FIFOs) CtlPath() string   { return f.ctlPath }
func (f *FIFOs) WinszPath() string { return f.winszPath }

// ServeWinsz starts applying "H W" lines from the winsz FIFO, including the
// ones queued before the terminal existed (§7: serviced only once the pty
// master is known); typically ServeWinsz(term.Resize). resize runs on the
// winsz goroutine and its errors are logged as warnings. Later calls are
// ignored.
func (f *FIFOs) ServeWinsz(resize func(rows, cols uint16) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.winszOn {
		return
	}
	f.winszOn = true
	f.wg.Add(1)
	apply := func(h, w uint16) {
		if err := resize(h, w); err != nil {
			f.log.Warnf("%v", err)
		}
	}
	go f.serve(f.winsz, func(line []byte) bool { return winszLine(f.log, line, apply) })
}

// Close stops the readers and closes all four descriptors. The FIFOs stay
// in the bundle (conmon does not remove them).
func (f *FIFOs) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.closeErr
	}
	f.closed = true
	f.mu.Unlock()

	err := errors.Join(f.ctl.Close(), f.winsz.Close())
	// Readers first: the ctl goroutine writes to winszW until it returns.
	f.wg.Wait()
	err = errors.Join(err, unix.Close(f.ctlW), unix.Close(f.winszW))
	if err != nil {
		f.closeErr = fmt.Errorf("close ctl/winsz fifos in %s: %w", filepath.Dir(f.ctlPath), err)
	}
	return f.closeErr
}

// serve reads r in chunks of at most ctlReadMax bytes and hands each line
// to line until r is closed.
func (f *FIFOs) serve(r *os.File, line func([]byte) bool) {
	defer f.wg.Done()
	var lb lineBuf
	var burst ctlBurst
	lines := 0
	counted := func(l []byte) bool { lines++; return line(l) }
	for {
		n, err := r.Read(lb.space())
		if errors.Is(err, os.ErrDeadlineExceeded) {
			burst.quiet(r, f.quiet)
			continue
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.EOF) {
				f.log.Warnf("read %s: %v", r.Name(), err)
			}
			return
		}
		lines = 0
		if lb.commit(n, counted) {
			f.log.Warnf("Could not find newline in entire buffer")
		}
		burst.afterRead(r, lines)
	}
}

// queueResize forwards a ctl resize as "H W\n" on the winsz FIFO, as conmon
// does; it is applied once ServeWinsz runs, so a resize sent before the
// runtime handed over the pty (podman's initial size) is not lost.
func (f *FIFOs) queueResize(h, w uint16) {
	if !f.terminal {
		if f.debug {
			f.log.Debugf("Ignoring resize to %dx%d: no terminal", h, w)
		}
		return
	}
	var b [16]byte
	msg := strconv.AppendUint(b[:0], uint64(h), 10)
	msg = append(msg, ' ')
	msg = strconv.AppendUint(msg, uint64(w), 10)
	msg = append(msg, '\n')
	// Non-blocking and < PIPE_BUF: all or nothing, never stalls ctl.
	if _, err := unix.Write(f.winszW, msg); err != nil {
		f.log.Warnf("Failed to write to window resizing fd. A resize may not have been handled: %v", err)
	}
}

// openFIFO recreates path as a FIFO and opens a non-blocking reader and a
// dummy writer on it.
func openFIFO(path string) (*os.File, int, error) {
	err := unix.Mkfifo(path, 0o660)
	if errors.Is(err, unix.EEXIST) {
		if err = unix.Unlink(path); err == nil {
			err = unix.Mkfifo(path, 0o660)
		}
	}
	if err != nil {
		return nil, -1, fmt.Errorf("create fifo %s: %w", path, err)
	}
	return openFIFOEnds(path)
}

// openFIFOEnds opens both ends of the FIFO just made. The bundle may be
// writable by others, who could swap the name for a symlink or a file
// between mkfifo and these opens: neither follows a symlink, and each must
// be a FIFO, or the monitor would write winsz lines into someone's file.
func openFIFOEnds(path string) (*os.File, int, error) {
	open := func(flag int, what string) (int, error) {
		fd, err := unix.Open(path, flag|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return -1, fmt.Errorf("open fifo %s for %s: %w", path, what, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			unix.Close(fd)
			return -1, fmt.Errorf("open fifo %s for %s: not a fifo", path, what)
		}
		return fd, nil
	}
	rfd, err := open(unix.O_RDONLY, "reading")
	if err != nil {
		return nil, -1, err
	}
	wfd, err := open(unix.O_WRONLY, "writing")
	if err != nil {
		unix.Close(rfd)
		return nil, -1, err
	}
	return os.NewFile(uintptr(rfd), path), wfd, nil
}
