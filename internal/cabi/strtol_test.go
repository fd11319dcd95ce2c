package cabi

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestStrtol(t *testing.T) {
	for _, tc := range []struct {
		in    string
		base  int
		v     int64
		end   int
		errno syscall.Errno
	}{
		{"", 10, 0, 0, 0},
		{"  -", 10, 0, 0, 0},
		{" \t\n\v\f\r7", 10, 7, 7, 0},
		{"\x857", 10, 0, 0, 0}, // NEL is no C space
		{"9223372036854775807", 10, math.MaxInt64, 19, 0},
		{"9223372036854775808", 10, math.MaxInt64, 19, syscall.ERANGE},
		{"-9223372036854775808", 10, math.MinInt64, 20, 0},
		{"-9223372036854775809x", 10, math.MinInt64, 20, syscall.ERANGE},
		{"99999999999999999999999", 10, math.MaxInt64, 23, syscall.ERANGE},
		{" +12ab", 10, 12, 4, 0},
		{"010", 10, 10, 3, 0},
		{"0x10", 10, 0, 1, 0},
		{"010", 0, 8, 3, 0},
		{"08", 0, 0, 1, 0},
		{"0x1f", 0, 31, 4, 0},
		{"-0X1F", 0, -31, 5, 0},
		{"0xg", 0, 0, 1, 0},
		{"0x", 0, 0, 1, 0},
		{"ff", 16, 255, 2, 0},
		{"0xff", 16, 255, 4, 0},
		{"z", 36, 35, 1, 0},
		{"12", 1, 0, 0, 0},
		{"12", 37, 0, 0, 0},
	} {
		v, end, errno := Strtol(tc.in, tc.base)
		if v != tc.v || end != tc.end || errno != tc.errno {
			t.Errorf("Strtol(%q, %d) = %d, %d, %v; want %d, %d, %v", tc.in, tc.base, v, end, errno, tc.v, tc.end, tc.errno)
		}
		bv, bend, berrno := Strtol([]byte(tc.in), tc.base)
		if bv != v || bend != end || berrno != errno {
			t.Errorf("Strtol([]byte(%q)) differs from the string form", tc.in)
		}
	}
}

func TestIsSpace(t *testing.T) {
	var got string
	for c := 0; c < 256; c++ {
		if IsSpace(byte(c)) {
			got += string(rune(c))
		}
	}
	if got != "\t\n\v\f\r " {
		t.Errorf("IsSpace accepts %q", got)
	}
}

// refStrtol is strtol built from strings and strconv, independently of
// Strtol's single pass.
func refStrtol(s string, base int) (int64, int, syscall.Errno) {
	rest := strings.TrimLeft(s, " \t\n\v\f\r")
	sign := ""
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		sign, rest = rest[:1], rest[1:]
	}
	const hex = "0123456789abcdefABCDEF"
	if (base == 0 || base == 16) && len(rest) > 2 && (strings.HasPrefix(rest, "0x") || strings.HasPrefix(rest, "0X")) && strings.IndexByte(hex, rest[2]) >= 0 {
		base, rest = 16, rest[2:]
	} else if base == 0 && strings.HasPrefix(rest, "0") {
		base = 8
	} else if base == 0 {
		base = 10
	}
	n := 0
	for n < len(rest) {
		if _, err := strconv.ParseUint(rest[n:n+1], base, 8); err != nil {
			break
		}
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	end := len(s) - len(rest) + n
	v, err := strconv.ParseInt(sign+rest[:n], base, 64)
	if errors.Is(err, strconv.ErrRange) {
		return v, end, syscall.ERANGE // ParseInt saturates like strtol
	}
	return v, end, 0
}

func FuzzStrtol(f *testing.F) {
	for _, s := range []string{"", " 12", "-9223372036854775809", "0x1F", "0xg", "010", "+", "\v-0", "1_000"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(10))
	}
	f.Fuzz(func(t *testing.T, s string, b uint8) {
		base := []int{0, 10, 16, 8, 2, 36}[int(b)%6]
		v, end, errno := Strtol(s, base)
		rv, rend, rerrno := refStrtol(s, base)
		if v != rv || end != rend || errno != rerrno {
			t.Fatalf("Strtol(%q, %d) = %d, %d, %v; reference %d, %d, %v", s, base, v, end, errno, rv, rend, rerrno)
		}
	})
}
