package cabi

import (
	"math"
	"syscall"
)

// IsSpace is isspace(3) in the C locale (also g_ascii_isspace): space and
// \t \n \v \f \r.
func IsSpace(c byte) bool {
	return c == ' ' || (c >= '\t' && c <= '\r')
}

// Strtol is C strtol(s, &end, base) for a 64-bit long: leading white space
// (IsSpace), one optional sign, then digits of base. Base 0 picks 16 for a
// "0x"/"0X" prefix followed by a hex digit, 8 for a leading 0, else 10; base
// 16 also accepts that prefix. Bases 2 to 36 are accepted, others give no
// conversion.
//
// It returns the value, the index where parsing stopped (0 when there are no
// digits, like endptr == nptr, so callers can check for trailing text with
// end == len(s)) and errno: ERANGE when the value does not fit, the value
// then being saturated to math.MinInt64 or math.MaxInt64 as strtol does.
// Like strtol, it never reports EINVAL for a string without digits.
func Strtol[S ~string | ~[]byte](s S, base int) (v int64, end int, errno syscall.Errno) {
	if base != 0 && (base < 2 || base > 36) {
		return 0, 0, 0
	}
	i := 0
	for i < len(s) && IsSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 0 || base == 16 {
		// "0x" is a prefix only when a hex digit follows; otherwise
		// strtol converts the "0" and stops at the 'x'.
		if i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digit(s[i+2]) < 16 {
			base = 16
			i += 2
		}
	}
	if base == 0 {
		base = 10
		if i < len(s) && s[i] == '0' {
			base = 8
		}
	}
	b := uint64(base)
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |LONG_MIN|
	}
	var u uint64
	start := i
	for ; i < len(s); i++ {
		d := digit(s[i])
		if d >= b {
			break
		}
		if errno != 0 || u > (limit-d)/b {
			u, errno = limit, syscall.ERANGE // keep consuming digits, as strtol does
			continue
		}
		u = u*b + d
	}
	if i == start {
		return 0, 0, 0
	}
	if neg {
		return int64(-u), i, errno // -(1<<63) wraps to itself, which is right
	}
	return int64(u), i, errno
}

// digit returns the value of c as a digit in bases up to 36, or 99.
func digit(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 99
}
