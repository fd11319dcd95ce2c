// Package pagebuf provides the data path's big buffers (a 64 KiB read, the
// 128 KiB log batch) outside the Go heap, each in an anonymous mapping of
// its own, so that the monitor can hand their pages back to the kernel
// when a burst of output ends, at once and without a garbage collection.
//
// A heap buffer cannot be given back without a collection, and an idle
// monitor's first collection costs more than it frees: the collector's own
// structures (span sets, mark bits) become resident, about 300 KiB that
// stay for the life of the process (docs/memory.md).
package pagebuf

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Buf is a buffer of a fixed size. Nothing is mapped until the first
// Bytes; a page becomes resident when it is first written.
type Buf struct {
	size   int
	b      []byte
	mapped bool // b is our mapping (false: a heap fallback, never released)
	used   bool // Bytes was called since the last Release
}

// New describes a buffer of size bytes without mapping it.
func New(size int) *Buf { return &Buf{size: size} }

// Bytes returns the buffer, mapping it on first use. Contents survive until
// Release; after it they read as zeros. Should the mapping fail, the
// buffer comes from the heap instead (and Release keeps it).
func (b *Buf) Bytes() []byte {
	if b.b == nil {
		m, err := mapAnon(b.size)
		if err != nil {
			m = make([]byte, b.size)
		} else {
			b.mapped = true
		}
		b.b = m
	}
	b.used = true
	return b.b
}

// Release gives the buffer's pages back to the kernel (MADV_DONTNEED:
// they are no longer resident, and read as zeros when touched again). The
// caller must hold no data in it; slices from Bytes stay valid.
func (b *Buf) Release() {
	if !b.mapped || !b.used {
		return
	}
	b.used = false
	_ = unix.Madvise(b.b, unix.MADV_DONTNEED)
}

// Resident reports whether Bytes was called since the last Release (tests).
func (b *Buf) Resident() bool { return b.used }

// mapAnon maps size bytes of private anonymous memory. It uses the pointer
// form of mmap: unix.Mmap records every mapping in a map on the heap, which
// costs a start-up allocation per buffer (docs/memory.md).
func mapAnon(size int) ([]byte, error) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// Scratch lends fn a zeroed buffer of size bytes that lives only for the
// call, in a mapping of its own that is unmapped afterwards. Start-up reads
// (a directory listing, a /proc file) use it: a heap buffer of a size the
// monitor uses nowhere else would keep a page of its own resident for the
// monitor's whole life. fn must not keep the slice. Should the mapping
// fail, the buffer comes from the heap.
func Scratch(size int, fn func(b []byte)) {
	b, err := mapAnon(size)
	if err != nil {
		fn(make([]byte, size))
		return
	}
	defer unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(size))
	fn(b)
}
