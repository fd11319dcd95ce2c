package logs

import (
	"fmt"
	"io"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shim-project/shim/internal/pagebuf"
)

const (
	// bufSize is the batch buffer, mapped on the first write (only the
	// pages a container's output reaches ever become resident) and given
	// back when the output pauses (Release). 128 KiB
	// holds the entries of a whole 64 KiB read of 100-byte lines, so such a
	// chunk costs one writev(2).
	bufSize = 128 << 10
	// bigEntry is the content size above which the content is not copied
	// into the batch buffer but handed to writev straight from the caller's
	// chunk: copying is cheaper than an iovec for short lines only.
	bigEntry = 2048
	// maxIov bounds the iovecs of one writev (the kernel allows 1024).
	// Copied entries share one iovec, so only big entries use them up.
	maxIov = 128
)

// batch gathers the entries of one chunk for as few writev calls as
// possible: headers and short contents are copied into buf (consecutive
// copies share one iovec), big contents are referenced where they are.
// Everything queued is written before WriteAt returns, so the caller's
// chunk outlives its iovecs.
type batch struct {
	page *pagebuf.Buf // buf's memory; nil until the first write
	buf  []byte
	// iov is allocated with the first entry: as part of K8sLog it made
	// the struct a 2.7 KiB heap object of a size class nothing else in an
	// idle monitor uses, a page resident for nothing (docs/memory.md).
	iov  *[maxIov]unix.Iovec
	niov int
	tail bool // iov[niov-1] ends at len(buf): the next copy extends it
	pend int  // bytes queued
}

// queue adds one entry: the header in f.hdr with its tag set here, the
// content, and for a P entry the '\n' conmon adds. It flushes first when
// the entry does not fit the buffer or the iovecs.
func (f *K8sLog) queue(line []byte, full bool) error {
	if f.buf == nil {
		if f.page == nil {
			f.page = pagebuf.New(bufSize)
		}
		f.buf = f.page.Bytes()[:0]
	}
	if f.iov == nil {
		f.iov = new([maxIov]unix.Iovec)
	}
	f.hdr[tagAt] = 'F'
	if !full {
		f.hdr[tagAt] = 'P'
	}
	var err error
	if len(line) <= bigEntry {
		if len(f.buf)+hdrLen+len(line)+1 > cap(f.buf) || (!f.tail && f.niov == maxIov) {
			err = f.flush()
		}
		f.put(f.hdr[:], line, !full)
		return err
	}
	if len(f.buf)+hdrLen+1 > cap(f.buf) || f.niov+3 > maxIov {
		err = f.flush()
	}
	f.put(f.hdr[:], nil, false)
	f.ref(line)
	if !full {
		f.put(nil, nil, true)
	}
	return err
}

// put copies a, b and optionally a '\n' into the buffer (the caller made
// room) and adds them to the iovecs.
func (b *batch) put(x, y []byte, nl bool) {
	start := len(b.buf)
	b.buf = append(b.buf, x...)
	b.buf = append(b.buf, y...)
	if nl {
		b.buf = append(b.buf, '\n')
	}
	n := len(b.buf) - start
	if b.tail {
		b.iov[b.niov-1].SetLen(int(b.iov[b.niov-1].Len) + n)
	} else {
		b.iov[b.niov].Base = &b.buf[start]
		b.iov[b.niov].SetLen(n)
		b.niov++
		b.tail = true
	}
	b.pend += n
}

// ref queues p without copying it (the caller made room).
func (b *batch) ref(p []byte) {
	b.iov[b.niov].Base = &p[0]
	b.iov[b.niov].SetLen(len(p))
	b.niov++
	b.tail = false
	b.pend += len(p)
}

// release gives the buffer's pages back to the kernel; the batch is empty
// between writes (everything queued is written before WriteAt returns).
func (b *batch) release() {
	if b.page != nil && b.buf != nil {
		b.page.Release()
		b.buf = nil
	}
}

// reset empties the batch and drops the references to callers' chunks.
func (b *batch) reset() {
	if b.iov != nil {
		clear(b.iov[:b.niov])
	}
	b.niov, b.tail, b.pend = 0, false, 0
	b.buf = b.buf[:0]
}

// flush writes the queued entries. Bytes that could not be written are
// taken off both counters so that they keep matching what is on disk; the
// batch is dropped either way, since a full disk must not make it grow
// without bound. When a failure leaves an entry half written (a disk that
// fills up mid-write), the file is cut back to the last complete entry, so
// that what follows once there is space again starts on a line of its own.
func (f *K8sLog) flush() error {
	want := f.pend
	if want == 0 {
		return nil
	}
	n, err := f.writev()
	if err != nil && n > 0 {
		n -= f.cutPartial(n)
	}
	f.reset()
	if lost := int64(want - n); lost > 0 {
		f.counts.lost(lost, err)
		f.size -= lost
		f.total -= lost
	}
	if err != nil {
		f.counts.Errors.Add(1)
		return fmt.Errorf("write log %s: %w", f.path, err)
	}
	return nil
}

// writev writes all queued iovecs, continuing after short writes, and
// returns how many bytes were written. It issues the raw syscall because
// unix.Writev allocates its iovecs on every call.
func (f *K8sLog) writev() (int, error) {
	if f.niov == 0 {
		return 0, nil
	}
	iov := f.iov[:f.niov]
	var rest [maxIov]unix.Iovec // only used after a short write
	done := 0
	for len(iov) > 0 {
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(f.fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		f.writes++
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return done, e
		}
		if r == 0 {
			return done, io.ErrShortWrite
		}
		done += int(r)
		if done == f.pend {
			return done, nil
		}
		// Short write: go on with a copy, keeping f.iov intact for
		// cutPartial.
		k := copy(rest[:], iov)
		iov = rest[:k]
		for len(iov) > 0 && int(iov[0].Len) <= int(r) {
			r -= uintptr(iov[0].Len)
			iov = iov[1:]
		}
		if len(iov) > 0 && r > 0 {
			iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), r))
			iov[0].SetLen(int(iov[0].Len) - int(r))
		}
	}
	return done, nil
}

// cutPartial removes from the end of the file the bytes of an entry that
// was only partly written (the first n queued bytes were) and returns how
// many it removed. Every entry ends in '\n' and has no other, so the last
// '\n' among the written bytes ends the last whole entry.
func (f *K8sLog) cutPartial(n int) int {
	keep := 0 // written bytes up to and including the last '\n'
	off := 0
	for i := 0; i < f.niov && off < n; i++ {
		seg := unsafe.Slice(f.iov[i].Base, int(f.iov[i].Len))
		seg = seg[:min(len(seg), n-off)]
		for j := len(seg) - 1; j >= 0; j-- {
			if seg[j] == '\n' {
				keep = off + j + 1
				break
			}
		}
		off += len(seg)
	}
	cut := n - keep
	if cut == 0 {
		return 0
	}
	var st unix.Stat_t
	if unix.Fstat(f.fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size < int64(cut) {
		return 0
	}
	if unix.Ftruncate(f.fd, st.Size-int64(cut)) != nil {
		return 0
	}
	return cut
}
