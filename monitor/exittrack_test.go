package monitor

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// FuzzStatPPid: whatever the command name (spaces, parentheses), the
// parent pid of a stat line is the field after the state; garbage gives no
// pid rather than a wrong one.
func FuzzStatPPid(f *testing.F) {
	f.Add("sh", 1, 42)
	f.Add("a) b (c", 7, 1)
	f.Add(") ) )", 100, 0)
	f.Fuzz(func(t *testing.T, comm string, pid, ppid int) {
		if pid < 0 || ppid < 0 {
			return
		}
		line := fmt.Sprintf("%d (%s) S %d %d 0 0 -1 4194560\n", pid, comm, ppid, pid)
		got, ok := statPPid(line)
		if !ok || got != ppid {
			t.Fatalf("statPPid(%q) = %d, %v; want %d", line, got, ok, ppid)
		}
		// A line cut before the ppid field has none.
		cut := line[:strings.LastIndexByte(line, ')')+3]
		if got, ok := statPPid(cut); ok {
			t.Fatalf("statPPid(%q) = %d from a cut line", cut, got)
		}
	})
}

// TestStatPPidOfThisProcess: our own stat line names our parent.
func TestStatPPidOfThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := statPPid(string(b)); !ok || got != os.Getppid() {
		t.Fatalf("statPPid = %d, %v; want %d", got, ok, os.Getppid())
	}
}
