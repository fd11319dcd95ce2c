package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/cabi"
	"github.com/shim-project/shim/internal/strerror"

	"github.com/shim-project/shim/cio/stream"
)

const (
	// hdrLen is "<TS> <stdout|stderr> <F|P> ": the fixed part of an entry,
	// so an entry costs len(content)+45, +1 for the '\n' added to P entries.
	hdrLen = tsLen + 1 + 6 + 1 + 1 + 1
	tagAt  = hdrLen - 2

	// maxContent is the most content one entry holds. conmon reads 8192
	// bytes at a time, so none of its entries is longer, and readers rely
	// on it; the monitor reads more at once and cuts longer lines into P
	// entries of this size itself.
	maxContent = 8192

	logFileMode = 0o640
)

// FileOptions are the k8s-file limits (§10.3) and rotation settings (§10.5).
type FileOptions struct {
	SizeMax       int64    // --log-size-max; <= 0 means unlimited
	GlobalSizeMax int64    // --log-global-size-max; <= 0 means unlimited
	Rotate        bool     // --log-rotate: rotate instead of truncate
	MaxFiles      int      // --log-max-files; backups kept = max(MaxFiles, 2)
	AllowlistDirs []string // --log-allowlist-dir
}

// K8sLog writes the CRI log format of §10.2 to one file. It is not safe for
// concurrent use; the monitor's single output loop owns it.
type K8sLog struct {
	path string // as given: messages and the rotation's ".." check use it
	abs  string // path anchored at the working directory of the first open
	// absC and tmpC are abs and abs+".tmp" in the kernel's form, made once:
	// a ctl reopen (kubelet's rotation) then allocates nothing.
	absC, tmpC cabi.CPath
	fd         int
	opts       FileOptions
	// spare is an fd held in reserve (/dev/null) for reopening at the
	// process's fd limit: a reopen creates the new file before it closes
	// the old one, which stays in use if the new cannot be made, so it
	// needs one fd more than the monitor otherwise holds. -1 if none.
	spare int

	size  int64 // bytes in the current file; reset by truncate/rotate
	total int64 // bytes this writer put in any file; never reset

	stamp stampCache
	hdr   [hdrLen]byte
	batch

	writes int // write syscalls issued; tests check the batching
	counts Counts
}

// OpenK8sLog opens (creating, never truncating) the log file at path. The
// error text is conmon's "Failed to open log file <strerror>" (§1.3 row p).
// Both size counters start at the file's existing size.
//
// An existing regular file is appended to, as by conmon (a restarted
// container keeps its log). But the log's directory may be writable by
// others, so, unlike conmon, a symlink at the name is refused (O_NOFOLLOW:
// "Too many levels of symbolic links"), and so is a FIFO: the open does
// not wait for a reader (O_NONBLOCK, "No such device or address" without
// one) and a FIFO that has one is not written either (§10.2).
func OpenK8sLog(path string, opts FileOptions) (*K8sLog, error) {
	abs := path
	if len(path) > 0 && path[0] != '/' {
		// Keep a later chdir of the monitor from moving the log. No
		// Clean: "a/.." must resolve through symlinks as the kernel does.
		if wd, err := os.Getwd(); err == nil {
			abs = wd + "/" + path
		}
	}
	fd, err := openLog(abs, unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return nil, cabi.NewError("Failed to open log file "+strerror.Text(err),
			fmt.Errorf("open log %s: %w", path, err))
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, cabi.NewError("Failed to open log file "+strerror.Text(err),
			fmt.Errorf("stat log %s: %w", path, err))
	}
	if err := checkLogType(path, st.Mode); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, cabi.NewError("Failed to open log file "+strerror.Text(err),
			fmt.Errorf("clear O_NONBLOCK on log %s: %w", path, err))
	}
	f := &K8sLog{path: path, abs: abs, fd: fd, opts: opts, size: st.Size, total: st.Size, spare: reserveFd()}
	// abs opened, so it holds no NUL; neither does abs+".tmp".
	f.absC, _ = cabi.NewCPath(abs)
	f.tmpC, _ = cabi.NewCPath(abs + ".tmp")
	return f, nil
}

// checkLogType accepts a regular file, and a character device such as
// /dev/null (benchmarks log there); anything else a name could be swapped
// for is refused.
func checkLogType(path string, mode uint32) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFCHR:
		return nil
	}
	return cabi.NewError("Failed to open log file "+path+": not a regular file",
		fmt.Errorf("open log %s: file type %#o: %w", path, mode&unix.S_IFMT, errNotRegular))
}

// errNotRegular marks a log name that exists as something other than a
// regular file or a character device.
var errNotRegular = errors.New("not a regular file")

// reserveFd opens the spare fd; -1 when even that fails.
func reserveFd() int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// openNew creates a reopen's new file; at the fd limit (EMFILE, ENFILE) it
// gives up the spare fd for it, taken again once the old file is closed.
func (f *K8sLog) openNew(path string, extra int) (int, error) {
	p, err := cabi.NewCPath(path)
	if err != nil {
		return -1, err
	}
	return f.openNewC(p, extra)
}

// openNewC is openNew for a path converted once.
func (f *K8sLog) openNewC(p cabi.CPath, extra int) (int, error) {
	const flags = unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_CLOEXEC
	fd, err := p.Open(flags|extra, logFileMode)
	if (err == unix.EMFILE || err == unix.ENFILE) && f.spare >= 0 {
		unix.Close(f.spare)
		f.spare = -1
		fd, err = p.Open(flags|extra, logFileMode)
	}
	return fd, err
}

// openLog opens a log file for appending with mode 0640 (the main process
// sets umask 022, so the mode is exact). extra adds O_EXCL, O_NOFOLLOW or
// O_NONBLOCK.
func openLog(path string, extra int) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC|extra, logFileMode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Path returns the log path as it was given.
func (f *K8sLog) Path() string { return f.path }

// Write logs one read chunk with the current time.
func (f *K8sLog) Write(s stream.Stream, p []byte) error { return f.WriteAt(s, p, time.Now()) }

// WriteAt logs one read chunk: every '\n'-terminated piece becomes an F
// entry, a trailing piece without '\n' a P entry, all stamped with ts;
// pieces longer than maxContent are cut into P entries of that size. The
// entries are batched into as few writev(2) calls as the limits allow. The
// first error is returned; the writer stays usable for the next chunk.
func (f *K8sLog) WriteAt(s stream.Stream, p []byte, ts time.Time) error {
	if len(p) == 0 {
		return nil
	}
	if f.fd < 0 {
		return fmt.Errorf("write log %s: %w", f.path, os.ErrClosed)
	}
	if err := f.header(s, ts); err != nil {
		return err
	}
	var first error
	var t tally
	for len(p) > 0 && !f.globalFull() {
		// Look for the '\n' in the next maxContent bytes only: a longer
		// line is cut there anyway, and scanning it whole for every piece
		// would make long lines quadratic.
		line, full := p[:min(len(p), maxContent)], false
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, full = p[:i+1], true
		}
		p = p[len(line):]
		t.entry(len(line), full)
		if err := f.entry(line, full); err != nil && first == nil {
			first = err
		}
	}
	f.countChunk(s, t, len(p))
	if err := f.flush(); err != nil && first == nil {
		first = err
	}
	return first
}

// header prepares "<TS> <stream> ? " for this chunk; entries only set the tag.
func (f *K8sLog) header(s stream.Stream, ts time.Time) error {
	name := "stdout"
	switch s {
	case stream.Stdout:
	case stream.Stderr:
		name = "stderr"
	default:
		return fmt.Errorf("write log %s: invalid stream %d", f.path, s)
	}
	n := copy(f.hdr[:], f.stamp.format(ts))
	f.hdr[n] = ' '
	n += 1 + copy(f.hdr[n+1:], name)
	f.hdr[n] = ' '
	f.hdr[n+2] = ' '
	return nil
}

// globalFull reports whether --log-global-size-max has been reached: the
// entry that crosses the limit is written, everything after it is dropped.
func (f *K8sLog) globalFull() bool {
	return f.opts.GlobalSizeMax > 0 && f.total >= f.opts.GlobalSizeMax
}

// entry queues one entry, first starting a new file when it would push the
// current one over --log-size-max. The entry is written even if it alone
// exceeds the limit, and even if the reopen failed (then into the old file,
// with the counter left high so the next entry tries again).
func (f *K8sLog) entry(line []byte, full bool) error {
	cost := int64(hdrLen + len(line))
	if !full {
		cost++
	}
	var err error
	if f.opts.SizeMax > 0 && f.size+cost > f.opts.SizeMax {
		err = f.flush()
		if rerr := f.Reopen(); rerr != nil && err == nil {
			err = rerr
		} else if rerr == nil {
			f.counts.Rotations.Add(1)
		}
	}
	f.size += cost
	f.total += cost
	if qerr := f.queue(line, full); qerr != nil && err == nil {
		err = qerr
	}
	return err
}

// Sync flushes the file to disk (done at exit unless --no-sync-log).
func (f *K8sLog) Sync() error {
	if f.fd < 0 {
		return nil
	}
	if err := unix.Fsync(f.fd); err != nil {
		return fmt.Errorf("fsync log %s: %w", f.path, err)
	}
	return nil
}

// Close closes the file. Entries are never held across calls, so there is
// nothing left to write. Closing twice is harmless.
func (f *K8sLog) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	f.release()
	if f.spare >= 0 {
		unix.Close(f.spare)
		f.spare = -1
	}
	if err != nil {
		return fmt.Errorf("close log %s: %w", f.path, err)
	}
	return nil
}
