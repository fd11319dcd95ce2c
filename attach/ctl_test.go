package attach

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// ctlRun feeds reads to a ctl parser exactly as the FIFO goroutine does and
// records what happened.
type ctlRun struct {
	lb     lineBuf
	h      ctlHandler
	log    *testLog
	events []string // "resize HxW" or "reopen"
}

func newCtlRun() *ctlRun {
	r := &ctlRun{log: &testLog{}}
	r.h = ctlHandler{
		log:    r.log,
		resize: func(h, w uint16) { r.events = append(r.events, fmt.Sprintf("resize %dx%d", h, w)) },
		reopen: func() { r.events = append(r.events, "reopen") },
	}
	return r
}

// read delivers one write; like read(2) it is cut into pieces that fit the
// free buffer space.
func (r *ctlRun) read(chunk string) {
	for len(chunk) > 0 {
		n := copy(r.lb.space(), chunk)
		chunk = chunk[n:]
		if r.lb.commit(n, r.h.line) {
			r.log.Warnf("Could not find newline in entire buffer")
		}
	}
}

const sizeMsg = " (must be between 0 and 1000)"

// TestCtlContractExamples holds every accepted and rejected example of
// §9, each written on its own.
func TestCtlContractExamples(t *testing.T) {
	tests := []struct {
		in   string
		want string // event, or "" when rejected
		warn string // expected warning, "" when accepted
	}{
		{"1 2 2\n", "resize 2x2", ""},
		{"1 2 2 3\n", "resize 2x2", ""},
		{"1 0010 0020\n", "resize 10x20", ""},
		{"1 0 0\n", "resize 0x0", ""},
		{"1 1000 1000\n", "resize 1000x1000", ""},
		{"1 +14 +15\n", "resize 14x15", ""},
		{"2 0 0\n", "reopen", ""},
		{"2 1000 1000\n", "reopen", ""},

		{"1 -1 -1\n", "", "Invalid window size: -1x-1" + sizeMsg},
		{"1 -1 3\n", "", "Invalid window size: -1x3" + sizeMsg},
		{"1 2\n", "", "Invalid control message format"},
		{"1\n", "", "Invalid control message format"},
		{"foo\n", "", "Invalid control message format"},
		{"999\n", "", "Invalid control message format"},
		{"999 2 2\n", "", "Invalid control message type: 999"},
		{"3 1 1\n", "", "Invalid control message type: 3"},
		{"1 10.5 20.3\n", "", "Invalid control message format"},
		{"1 0x10 0x20\n", "", "Invalid control message format"},
		{"1 100000 100000\n", "", "Invalid window size: 100000x100000" + sizeMsg},
		{"1 1001 1000\n", "", "Invalid window size: 1001x1000" + sizeMsg},
		{"1 1000 1001\n", "", "Invalid window size: 1000x1001" + sizeMsg},
		{"1 65535 65535\n", "", "Invalid window size: 65535x65535" + sizeMsg},
		{"2 -1 0\n", "", "Invalid window size: -1x0" + sizeMsg},
		{"2 1001 0\n", "", "Invalid window size: 1001x0" + sizeMsg},
		{"1 2 2 " + strings.Repeat("#", 64<<10) + "\n", "", "Could not find newline in entire buffer"},

		// Beyond the list: more sscanf("%d %d %d") semantics (checked
		// against glibc), then the validation order.
		{"  \t1\t2   3  \n", "resize 2x3", ""},
		{"1 2 3\r\n", "resize 2x3", ""},
		{"1+2+3\n", "resize 2x3", ""},
		{"1 4294967298 4294967297\n", "resize 2x1", ""}, // strtol, then int truncation
		{"1 99999999999999999999 5\n", "", "Invalid window size: -1x5" + sizeMsg},
		{"3000000000 1 1\n", "", "Invalid control message type: -1294967296"},
		{"\n", "", "Invalid control message format"},
		{"+ 1 2 3\n", "", "Invalid control message format"},
		{"3 2\n", "", "Invalid control message format"},      // format before type
		{"3 -1 -1\n", "", "Invalid control message type: 3"}, // type before size
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 30 {
			name = name[:30] + "..."
		}
		t.Run(name, func(t *testing.T) {
			r := newCtlRun()
			r.read(tt.in)
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !reflect.DeepEqual(r.events, want) {
				t.Errorf("events %q, want %q", r.events, want)
			}
			var wantWarn []string
			if tt.warn != "" {
				wantWarn = []string{tt.warn}
			}
			if got := r.log.warnings(); !reflect.DeepEqual(got, wantWarn) {
				t.Errorf("warnings %q, want %q", got, wantWarn)
			}
			// conmon keeps running: a later message is processed normally.
			r.read("1 7 7\n")
			if n := len(r.events); n == 0 || r.events[n-1] != "resize 7x7" {
				t.Errorf("message after %q not processed: %q", name, r.events)
			}
		})
	}
}

func TestCtlReads(t *testing.T) {
	tests := []struct {
		name   string
		reads  []string
		events []string
		warns  int
	}{
		{"fragment kept across reads", []string{"1 1", "0 2", "0\n"}, []string{"resize 10x20"}, 0},
		{"several lines in one read", []string{"1 2 2\n2 0 0\n1 3 3\n"},
			[]string{"resize 2x2", "reopen", "resize 3x3"}, 0},
		{"rest of the read dropped after an invalid line",
			[]string{"1 2 2\nfoo\n1 3 3\n1 4", " 4\n", "1 5 5\n"},
			[]string{"resize 2x2", "resize 5x5"}, 2}, // foo, then the orphan " 4"
		{"no borrowing from the next line (optional quirk)", []string{"1\n2 3\n"}, nil, 1},
		{"198-byte line fits", []string{"1 7 7" + strings.Repeat(" ", 193) + "\n"}, []string{"resize 7x7"}, 0},
		{"199 bytes without newline discarded", []string{strings.Repeat(" ", 196) + "1 8", " 8\n", "1 9 9\n"},
			[]string{"resize 9x9"}, 1},
		{"fragment plus read overflow", []string{"1 2", strings.Repeat(" ", 196), "\n1 6 6\n"},
			[]string{"resize 6x6"}, 1},
		{"valid message after a long line in the same read",
			[]string{strings.Repeat("#", 500) + "\n1 9 9\n"}, []string{"resize 9x9"}, 1},
		{"newline exactly at byte 199", []string{strings.Repeat(" ", 193) + "1 4 4\n"}, []string{"resize 4x4"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCtlRun()
			for _, chunk := range tt.reads {
				r.read(chunk)
			}
			if !reflect.DeepEqual(r.events, tt.events) {
				t.Errorf("events %q, want %q", r.events, tt.events)
			}
			if got := r.log.warnings(); len(got) != tt.warns {
				t.Errorf("warnings %q, want %d", got, tt.warns)
			}
		})
	}
}

func TestWinszLines(t *testing.T) {
	tests := []struct {
		in    string
		sizes []string
		warns []string
	}{
		{"24 80\n", []string{"24x80"}, nil},
		{"24 80\n30 100\n", []string{"24x80", "30x100"}, nil},
		{"0 0\n1000 1000\n", []string{"0x0", "1000x1000"}, nil},
		{"24\n", nil, []string{"Failed to parse window size"}},
		{"x y\n", nil, []string{"Failed to parse window size"}},
		{"1001 5\n24 80\n", []string{"24x80"}, []string{"Invalid window size: 1001x5" + sizeMsg}},
		{"-1 5\n", nil, []string{"Invalid window size: -1x5" + sizeMsg}},
	}
	for _, tt := range tests {
		log := &testLog{}
		var sizes []string
		var lb lineBuf
		n := copy(lb.space(), tt.in)
		lb.commit(n, func(l []byte) bool {
			return winszLine(log, l, func(h, w uint16) { sizes = append(sizes, fmt.Sprintf("%dx%d", h, w)) })
		})
		if !reflect.DeepEqual(sizes, tt.sizes) || !reflect.DeepEqual(log.warnings(), tt.warns) {
			t.Errorf("%q: sizes %q warnings %q; want %q %q", tt.in, sizes, log.warnings(), tt.sizes, tt.warns)
		}
	}
}

// FuzzCtl throws arbitrary bytes, in arbitrary read sizes, at the ctl
// parser: it must never panic, never overrun its buffer, and never pass on
// a size outside 0..1000.
func FuzzCtl(f *testing.F) {
	for _, seed := range []string{"1 2 2\n", "2 0 0\n1 3 3\n", "1 -1 -1\n", "1 0x10 0x20\n",
		"1 99999999999999999999 5\n", "1\n2 3\n", strings.Repeat("#", 300) + "\n1 9 9\n"} {
		f.Add(uint8(7), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, cut uint8, data []byte) {
		var lb lineBuf
		line := (&ctlHandler{
			log: nopLogger{},
			resize: func(h, w uint16) {
				if h > maxWinSize || w > maxWinSize {
					t.Fatalf("resize %dx%d passed validation", h, w)
				}
			},
			reopen: func() {},
		}).line
		step := int(cut%64) + 1
		for len(data) > 0 {
			space := lb.space()
			if len(space) == 0 {
				t.Fatal("line buffer has no room for the next read")
			}
			n := copy(space, data[:min(step, len(data))])
			data = data[n:]
			lb.commit(n, line)
			if lb.n >= ctlReadMax {
				t.Fatalf("fragment of %d bytes kept", lb.n)
			}
		}
	})
}
