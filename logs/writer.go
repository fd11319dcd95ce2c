package logs

import (
	"errors"
	"time"

	"github.com/shim-project/shim/cio/stream"
)

// Options configure the logging of one container.
type Options struct {
	Specs []Spec // parsed -l values, in command-line order

	ContainerID string // --cid
	Name        string // --name
	NameSet     bool
	Tag         string // --log-tag
	TagSet      bool
	Labels      []string // --log-label

	SizeMax          int64    // --log-size-max (<= 0: unlimited)
	GlobalSizeMax    int64    // --log-global-size-max (<= 0: unlimited)
	Rotate           bool     // --log-rotate
	MaxFiles         int      // --log-max-files
	AllowlistDirs    []string // --log-allowlist-dir
	NoPartialMessage bool     // --no-container-partial-message

	JournalSocket string // "" means DefaultJournalSocket (tests set it)
}

// Writer fans container output out to the configured drivers. none and
// passthrough write nothing here (passthrough is wired up by the caller).
// Like the drivers it is meant for the monitor's single output loop and is
// not safe for concurrent use.
type Writer struct {
	drivers Drivers
	file    *K8sLog
	journal *Journal
	failing [2]failure // k8s-file, journald
	limiter *Limiter   // §16.5; nil: no rate limit
	lout    limitedOut // what the limiter lets through goes here
}

// failure is a driver's run of failed writes, reported when it starts.
type failure struct {
	active bool
	last   time.Time // time of the latest failed write
}

// failQuiet is how long a driver must go without failing before a new
// failure counts as a new run. A disk that is full flips between failing
// and working at page granularity (a small write still fits in the file's
// last page), so "a write worked" alone does not end the run.
const failQuiet = 30 * time.Second

// New opens the k8s-file (when configured; its error text is conmon's
// "Failed to open log file <strerror>") and sets up the journald socket.
func New(o Options) (*Writer, error) {
	w := &Writer{drivers: Combine(o.Specs)}
	if w.drivers.K8sFile {
		f, err := OpenK8sLog(w.drivers.Path, FileOptions{
			SizeMax:       o.SizeMax,
			GlobalSizeMax: o.GlobalSizeMax,
			Rotate:        o.Rotate,
			MaxFiles:      o.MaxFiles,
			AllowlistDirs: o.AllowlistDirs,
		})
		if err != nil {
			return nil, err
		}
		w.file = f
	}
	if w.drivers.Journald {
		j, err := NewJournal(JournalOptions{
			Socket:           o.JournalSocket,
			ContainerID:      o.ContainerID,
			Name:             o.Name,
			NameSet:          o.NameSet,
			Tag:              o.Tag,
			TagSet:           o.TagSet,
			Labels:           o.Labels,
			NoPartialMessage: o.NoPartialMessage,
		})
		if err != nil {
			w.Close(false)
			return nil, err
		}
		w.journal = j
	}
	return w, nil
}

// Drivers reports which drivers are configured.
func (w *Writer) Drivers() Drivers { return w.drivers }

// File returns the k8s-file writer, or nil.
func (w *Writer) File() *K8sLog { return w.file }

// Write logs one read chunk to every driver, with a single timestamp for
// the whole chunk. A driver's error (a full disk, a missing journal) is
// returned when the driver starts failing, for the caller to warn about
// once: while it keeps failing its errors are only counted (Counts). Once
// it has worked again with no failure for failQuiet, the next failure is
// returned anew. Every driver keeps accepting later chunks.
func (w *Writer) Write(s stream.Stream, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if w.limiter != nil && !w.limiter.lim.Block {
		return w.writeLimited(s, p, time.Now())
	}
	return w.writeAt(s, p, time.Now())
}

func (w *Writer) writeAt(s stream.Stream, p []byte, ts time.Time) error {
	var ferr, jerr error
	if w.file != nil {
		ferr = w.file.WriteAt(s, p, ts)
	}
	if w.journal != nil {
		jerr = w.journal.Write(s, p)
	}
	return errors.Join(w.failing[0].onset(ferr, ts), w.failing[1].onset(jerr, ts))
}

// onset passes on err when it starts a run of failures, and records it.
func (f *failure) onset(err error, now time.Time) error {
	if err == nil {
		if f.active && now.Sub(f.last) >= failQuiet {
			f.active = false
		}
		return nil
	}
	start := !f.active
	f.active, f.last = true, now
	if start {
		return err
	}
	return nil
}

// Reopen handles ctl message type 2: truncate or rotate the k8s-file
// (journald has nothing to reopen). On error the old file stays in use.
func (w *Writer) Reopen() error {
	if w.file == nil {
		return nil
	}
	err := w.file.Reopen()
	if err == nil {
		w.file.counts.Reopens.Add(1)
	}
	return err
}

// Release gives the k8s-file's batch buffer back to the kernel: the
// container's output paused, and an idle monitor should not keep the pages
// its last burst touched. The next write maps them again.
func (w *Writer) Release() {
	if w.file != nil {
		w.file.release()
	}
}

// Flush sends journald's held partial lines (k8s-file holds nothing). A
// failure is reported like Write's: not again during a run of failures.
func (w *Writer) Flush() error {
	if w.journal == nil {
		return nil
	}
	return w.failing[1].onset(w.journal.Flush(), time.Now())
}

// Sync fsyncs the k8s-file.
func (w *Writer) Sync() error {
	if w.file == nil {
		return nil
	}
	return w.file.Sync()
}

// Close flushes held partial lines, fsyncs the k8s-file when sync is set
// (i.e. unless --no-sync-log), and closes everything. The flush's failure
// is reported as Flush's is.
func (w *Writer) Close(sync bool) error {
	errs := []error{w.finalMarker()}
	if w.journal != nil {
		errs = append(errs, w.failing[1].onset(w.journal.Close(), time.Now()))
	}
	if w.file != nil {
		if sync {
			errs = append(errs, w.file.Sync())
		}
		errs = append(errs, w.file.Close())
	}
	return errors.Join(errs...)
}
