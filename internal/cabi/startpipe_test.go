package cabi

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestReadStartPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Write([]byte{0})
	w.Close()
	if err := ReadStartPipe(int(r.Fd())); err != nil {
		t.Errorf("go byte: %v", err)
	}
	if err := ReadStartPipe(int(r.Fd())); err != nil { // EOF means go too
		t.Errorf("EOF: %v", err)
	}
	err = ReadStartPipe(int(w.Fd())) // closed
	if err == nil || err.Error() != "start-pipe read failed Bad file descriptor" {
		t.Errorf("closed fd: %v", err)
	}
}

// TestReexec runs this test binary again with an fd at a chosen number.
func TestReexec(t *testing.T) {
	if os.Getenv("CABI_REEXEC_CHILD") == "1" {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	env := append(os.Environ(), "CABI_REEXEC_CHILD=1")
	argv := []string{os.Args[0], "-test.run=^TestReexec$"}
	pid, err := Reexec(argv, env, []int{-1, int(w.Fd()), int(w.Fd())}, t.TempDir(), nil)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4096)
	n, _ := r.Read(out)
	if ws.ExitStatus() != 0 || !strings.Contains(string(out[:n]), "PASS") {
		t.Errorf("child exit %d, output %q", ws.ExitStatus(), out[:n])
	}
}
