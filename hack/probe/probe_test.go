package probe

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != 'R' || st.PPid != os.Getppid() {
		t.Fatalf("own stat: state %c ppid %d, want R and %d", st.State, st.PPid, os.Getppid())
	}
}

func TestParseStat(t *testing.T) {
	raw := "42 (a) b (c)) S 7 1 1 0 -1 0 0 0 0 0 150 50 3 7 20 0 1 0 5 0 0\n"
	st, err := ParseStat([]byte(raw))
	want := Stat{Comm: "a) b (c)", State: 'S', PPid: 7, Own: 2 * time.Second, Children: 100 * time.Millisecond}
	if err != nil || st != want {
		t.Fatalf("ParseStat = %+v, %v; want %+v", st, err, want)
	}
	for _, bad := range []string{"", "42 (x", "42 (x) S 7", "42 (x) S x 1 1 0 -1 0 0 0 0 0 1 1 1 1 20"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted", bad)
		}
	}
}

func TestParseGoroutines(t *testing.T) {
	in := "# HELP shim_monitor_goroutines goroutines\n# TYPE shim_monitor_goroutines gauge\n" +
		`shim_monitor_goroutines{container_id="x",container_name="y"} 12` + "\n"
	if n, err := ParseGoroutines(strings.NewReader(in)); err != nil || n != 12 {
		t.Fatalf("ParseGoroutines = %d, %v; want 12", n, err)
	}
	if _, err := ParseGoroutines(strings.NewReader("shim_log_bytes_total 3\n")); err == nil {
		t.Fatal("no goroutine sample: want an error")
	}
}

// Whatever the input, a parsed stat's fields are consistent with it: the
// ppid and the state appear after the command name, times are not negative.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (a) b (c)) S 7 1 1 0 -1 0 0 0 0 0 150 50 3 7 20 0 1 0 5 0 0\n"))
	f.Add([]byte("1 (sh) R 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 9"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		st, err := ParseStat(raw)
		if err != nil {
			return
		}
		if st.Own < 0 || st.Children < 0 || st.PPid < 0 {
			t.Fatalf("%q: %+v", raw, st)
		}
		after := strings.Fields(string(raw[strings.LastIndex(string(raw), ")")+1:]))
		if len(after) < 15 || after[0] != string([]byte{st.State}) || !strings.Contains(string(raw), st.Comm) {
			t.Fatalf("%q: state %c, comm %q do not come from it", raw, st.State, st.Comm)
		}
	})
}

// A parsed count is a sample's value on a shim_monitor_goroutines line.
func FuzzParseGoroutines(f *testing.F) {
	f.Add("shim_monitor_goroutines{a=\"b\"} 12\n")
	f.Add("x 1\nshim_monitor_goroutines 3.5\n")
	f.Fuzz(func(t *testing.T, in string) {
		n, err := ParseGoroutines(strings.NewReader(in))
		if err != nil {
			return
		}
		if n < 0 || !strings.Contains(in, fmt.Sprint(n)) {
			t.Fatalf("%q: %d", in, n)
		}
	})
}
