package cabi

import "testing"

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		ok   bool
	}{
		{"error", LevelError, true}, {"FATAL", LevelError, true}, {"panic", LevelError, true},
		{"warn", LevelWarn, true}, {"Warning", LevelWarn, true},
		{"info", LevelInfo, true}, {"DeBuG", LevelDebug, true}, {"trace", LevelTrace, true},
		{"", LevelWarn, false}, {"bogus", LevelWarn, false}, {"warn ", LevelWarn, false},
	} {
		got, ok := ParseLevel(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLevelPrefix(t *testing.T) {
	want := map[Level]string{
		LevelError: "[conmon:e]: ", LevelWarn: "[conmon:w]: ", LevelInfo: "[conmon:i]: ",
		LevelDebug: "[conmon:d]: ", LevelTrace: "[conmon:d]: ",
	}
	for l, p := range want {
		if l.Prefix() != p {
			t.Errorf("level %d prefix %q, want %q", l, l.Prefix(), p)
		}
	}
}
