package notify

import (
	"bytes"
	"testing"
)

// FuzzFilter checks the sd-notify filter against §12.1 written out
// independently: the output is exactly the input's allowed lines (split at
// CR or LF) joined with '\n', so it never holds a MAINPID= line or a line
// the container did not send, and filtering it again gives it back.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"READY=1", "MAINPID=42\nREADY=1", "STATUS=up\r\nMAINPID=1\rWATCHDOG=1\n",
		"READY=1 \nREADY=10\nSTATUS=\n\n", "MAINPID=1", "STATUS=MAINPID=7\nERRNO=2",
		"BUSERROR=x\nMONOTONIC_USEC=5\nRELOADING=1\nSTOPPING=1\nWATCHDOG=trigger", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := Filter(msg)
		var want [][]byte
		for _, line := range bytes.FieldsFunc(msg, func(r rune) bool { return r == '\r' || r == '\n' }) {
			if specAllowed(line) {
				want = append(want, line)
			}
		}
		if w := bytes.Join(want, []byte("\n")); !bytes.Equal(out, w) || (out == nil) != (want == nil) {
			t.Fatalf("Filter(%q) = %q, want %q", msg, out, w)
		}
		for _, line := range bytes.Split(out, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("MAINPID=")) {
				t.Fatalf("Filter(%q) forwards %q", msg, line)
			}
			if !bytes.Contains(msg, line) {
				t.Fatalf("Filter(%q) forwards %q, not in the input", msg, line)
			}
		}
		if again := Filter(out); !bytes.Equal(again, out) {
			t.Fatalf("Filter(%q) = %q, filtered again %q", msg, out, again)
		}
	})
}

// specAllowed is §12.1's allowlist [HEAD].
func specAllowed(line []byte) bool {
	switch string(line) {
	case "READY=1", "RELOADING=1", "STOPPING=1", "WATCHDOG=1", "WATCHDOG=trigger":
		return true
	}
	for _, p := range []string{"STATUS=", "ERRNO=", "BUSERROR=", "MONOTONIC_USEC="} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}
