package pagebuf

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts p's pages in memory (mincore(2)); p must be page-aligned,
// as a mapping is.
func resident(t *testing.T, p []byte) int {
	t.Helper()
	page := os.Getpagesize()
	vec := make([]byte, (len(p)+page-1)/page)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

func TestReleaseGivesPagesBack(t *testing.T) {
	const size = 256 << 10
	pages := size / os.Getpagesize()
	b := New(size)
	p := b.Bytes()
	if len(p) != size {
		t.Fatalf("len %d, want %d", len(p), size)
	}
	if got := resident(t, p); got != 0 {
		t.Fatalf("untouched buffer: %d pages resident", got)
	}
	for i := range p {
		p[i] = byte(i)
	}
	if got := resident(t, p); got != pages {
		t.Fatalf("written buffer: %d pages resident, want %d", got, pages)
	}
	b.Release()
	if b.Resident() {
		t.Fatal("Resident after Release")
	}
	if got := resident(t, p); got != 0 {
		t.Fatalf("released buffer: %d pages resident", got)
	}
	// The same buffer, usable again, reading as zeros.
	q := b.Bytes()
	if &q[0] != &p[0] || q[1] != 0 {
		t.Fatalf("after Release: same buffer %v, q[1] = %d", &q[0] == &p[0], q[1])
	}
	q[1] = 7
	if got := resident(t, q); got != 1 {
		t.Fatalf("one byte written again: %d pages resident", got)
	}
}

func TestReleaseBeforeUseIsNoop(t *testing.T) {
	b := New(4096)
	b.Release() // never mapped
	if b.Resident() {
		t.Fatal("Resident before Bytes")
	}
	if p := b.Bytes(); len(p) != 4096 || !b.Resident() {
		t.Fatalf("Bytes: len %d, Resident %v", len(p), b.Resident())
	}
}

// TestScratchIsUnmapped: the buffer Scratch lends is zeroed, writable, and
// unmapped once fn returns (mincore on its range then fails with ENOMEM).
func TestScratchIsUnmapped(t *testing.T) {
	const size = 3 << 12
	var addr uintptr
	Scratch(size, func(b []byte) {
		if len(b) != size {
			t.Fatalf("len %d, want %d", len(b), size)
		}
		for i, c := range b {
			if c != 0 {
				t.Fatalf("byte %d is %d", i, c)
			}
		}
		b[0], b[size-1] = 1, 1
		addr = uintptr(unsafe.Pointer(&b[0]))
	})
	vec := make([]byte, 3)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, addr, size, uintptr(unsafe.Pointer(&vec[0])))
	if e != unix.ENOMEM {
		t.Fatalf("mincore after Scratch: %v, want ENOMEM (unmapped)", e)
	}
}
