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

// units are the size suffixes: SI (powers of 1000) and IEC (of 1024), with
// or without a trailing B, as Kubernetes quantities and humans write them.
var units = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
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
	mult, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
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
