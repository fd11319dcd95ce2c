package stream

import "testing"

func TestStreams(t *testing.T) {
	for _, tt := range []struct {
		s    Stream
		i    int
		ok   bool
		id   byte
		name string
	}{
		{Stdout, 0, true, 2, "stdout"},
		{Stderr, 1, true, 3, "stderr"},
		{0, 0, false, 0, "invalid"},
		{3, 0, false, 0, "invalid"},
	} {
		i, ok := tt.s.Index()
		if i != tt.i || ok != tt.ok || tt.s.AttachID() != tt.id || tt.s.String() != tt.name {
			t.Errorf("%d: Index %d,%v AttachID %d String %q; want %d,%v %d %q",
				tt.s, i, ok, tt.s.AttachID(), tt.s.String(), tt.i, tt.ok, tt.id, tt.name)
		}
	}
}
