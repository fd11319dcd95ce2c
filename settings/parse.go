package settings

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is returned for a value that is not a size, rate or policy.
var ErrSyntax = errors.New("invalid value")

// ErrCapped comes with a usable value: the one given, lowered to a cap.
var ErrCapped = errors.New("capped")

// maxSize bounds every size and rate (1 PiB): far above any use, and far
// below int64 overflow in the limiter's arithmetic.
const maxSize = 1 << 50

// unit returns a size suffix's multiplier: SI (powers of 1000) and IEC (of
// 1024), with or without a trailing B, as Kubernetes quantities and humans
// write them; u is lower case. A switch, not a map: a package-level map is
// built on the heap of every monitor at start-up.
func unit(u string) (int64, bool) {
	switch strings.TrimSuffix(u, "b") {
	case "":
		return 1, true
	case "k":
		return 1e3, true
	case "ki":
		return 1 << 10, true
	case "m":
		return 1e6, true
	case "mi":
		return 1 << 20, true
	case "g":
		return 1e9, true
	case "gi":
		return 1 << 30, true
	}
	return 0, false
}

// parseSize reads "65536", "64Ki", "64KiB", "1M", "0" (off). Units are
// case-insensitive.
func parseSize(s string) (int64, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%w: %q is not a size (e.g. 65536, 64Ki, 1M)", ErrSyntax, s)
	}
	mult, ok := unit(strings.ToLower(strings.TrimSpace(s[i:])))
	if !ok {
		return 0, fmt.Errorf("%w: unknown unit %q in %q", ErrSyntax, s[i:], s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > maxSize/mult {
		return 0, fmt.Errorf("%w: %q is too large", ErrSyntax, s)
	}
	return n * mult, nil
}

// parseRate is a size per second; "/s" may be written.
func parseRate(s string) (int64, error) {
	return parseSize(strings.TrimSuffix(s, "/s"))
}

func parsePolicy(s string) (int64, error) {
	switch strings.ToLower(s) {
	case "drop":
		return int64(Drop), nil
	case "block":
		return int64(Block), nil
	}
	return 0, fmt.Errorf("%w: policy %q is neither drop nor block", ErrSyntax, s)
}

func parseScrollback(s string) (int64, error) {
	n, err := parseSize(s)
	if err == nil && n > MaxScrollback {
		return MaxScrollback, fmt.Errorf("%w: %q is above the maximum, %d bytes are kept", ErrCapped, s, MaxScrollback)
	}
	return n, err
}
