package oci

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The fuzz targets of this package check the C-integer readers (_OCI_*
// fds, the pidfile, LISTEN_PID) against refStrtol10, written here a
// different way (math/big over the digit run) from cabi.Strtol, and the
// sync message encoder against encoding/json, what podman and CRI-O decode
// it with.

// refStrtol10 is C strtol(s, &end, 10) with a 64-bit long: C white space,
// one sign, decimal digits; out of range saturates with ERANGE; no digits
// gives 0 with end 0.
func refStrtol10(s string) (int64, int, syscall.Errno) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return 0, 0, 0
	}
	n, ok := new(big.Int).SetString(s[i:k], 10)
	if !ok {
		panic("reference strtol: bad digit run " + strconv.Quote(s[i:k]))
	}
	switch {
	case n.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64, k, syscall.ERANGE
	case n.Cmp(big.NewInt(math.MinInt64)) < 0:
		return math.MinInt64, k, syscall.ERANGE
	}
	return n.Int64(), k, 0
}

// errnoText is strerror for the two errnos strtol leaves.
func errnoText(e syscall.Errno) string {
	if e == 0 {
		return "Success"
	}
	return "Numerical result out of range"
}

// intSeeds are the C-integer corner cases every integer target starts from.
var intSeeds = []string{
	"", "0", "3", " 7", "+5", "-1", "\t\n\v\f\r 42", "3x", "3 ", " ", "x", "0x3", "010", "- 5", "+-5",
	"2147483647", "2147483648", "-2147483649", "4294967298", "4294967297junk",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"99999999999999999999", "-99999999999999999999", "99999999999999999999x", "12\x0034", "\x00 1", "\xa01",
}

// FuzzSyncMessage: every message is valid JSON of at most MaxSyncMessage
// bytes ending in a newline, the key holds the value, and the text decodes
// back to the input up to its first NUL, or to a prefix of it only when the
// whole would not fit. Raw bytes that are not valid UTF-8 are copied as they
// are (appendEscaped), so encoding/json decodes each to U+FFFD: the text
// then decodes to string([]rune(text)), which is that same replacement.
func FuzzSyncMessage(f *testing.F) {
	for _, m := range []string{"", "command timed out", `say "hi"`, `a\b`, "/usr/bin/x", "l1\nl2\r\t\b\f",
		"\x01\x1b\x1f\x7f", "é€\xff\x80", "\xed\xa0\x80", "\xe2\x82", "before\x00after", "\x00after",
		strings.Repeat("a", 4100), strings.Repeat("\x01", 1000), strings.Repeat("€", 1400), strings.Repeat("a", 4059) + "😀"} {
		f.Add(uint8(0), -1, m)
	}
	f.Add(uint8(1), math.MinInt64, strings.Repeat("\"", 3000))
	f.Add(uint8(2), math.MaxInt64, "x")
	f.Fuzz(func(t *testing.T, k uint8, value int, message string) {
		key := []string{KeyData, KeyExitCode, KeyPid}[int(k)%3]
		dst := []byte("prev\n")
		out := AppendSyncMessage(dst, key, value, message)
		if !bytes.HasPrefix(out, []byte("prev\n")) {
			t.Fatalf("dst not kept: %q", out)
		}
		msg := out[len("prev\n"):]
		if len(msg) > MaxSyncMessage || !bytes.HasSuffix(msg, []byte("\n")) {
			t.Fatalf("%d bytes, ends %q", len(msg), msg[max(0, len(msg)-4):])
		}
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.UseNumber()
		var got map[string]any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("invalid JSON %q: %v", msg, err)
		}
		if n, ok := got[key].(json.Number); !ok || n.String() != strconv.Itoa(value) {
			t.Fatalf("%s = %#v, want %d", key, got[key], value)
		}
		text, _, _ := strings.Cut(message, "\x00")
		decoded, has := got["message"].(string)
		if len(got) != 1+btoi(has) || has != (text != "") {
			t.Fatalf("members %v for text %q", got, text)
		}
		want := string([]rune(text))
		if decoded == want {
			return
		}
		// Shortened: a prefix cut at a character or escape boundary, and
		// only when the next one (at most 6 bytes, "\u00XX") had no room.
		if !strings.HasPrefix(want, decoded) {
			t.Fatalf("decoded %q is not a prefix of %q", decoded, want)
		}
		if len(msg) <= MaxSyncMessage-6 {
			t.Fatalf("text shortened to %d bytes in a %d-byte message", len(decoded), len(msg))
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzParseFdEnv: ParseFdEnv is strtol over the whole value, truncated to
// an int, with conmon's error text, and an accepted fd formats and parses
// back to itself.
func FuzzParseFdEnv(f *testing.F) {
	for _, s := range intSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fd, err := ParseFdEnv("_OCI_SYNCPIPE", s)
		v, end, errno := refStrtol10(s)
		if errno != 0 || end != len(s) {
			want := "unable to parse _OCI_SYNCPIPE " + errnoText(errno)
			if err == nil || err.Error() != want {
				t.Fatalf("ParseFdEnv(%q) = %d, %v; want error %q", s, fd, err, want)
			}
			return
		}
		if err != nil || fd != int(int32(v)) {
			t.Fatalf("ParseFdEnv(%q) = %d, %v; want %d", s, fd, err, int32(v))
		}
		if again, err := ParseFdEnv("X", strconv.Itoa(fd)); err != nil || again != fd {
			t.Fatalf("fd %d re-parsed as %d, %v", fd, again, err)
		}
	})
}

// FuzzPidFile: a pidfile of any content reads as C atoi of it does.
func FuzzPidFile(f *testing.F) {
	for _, s := range intSeeds {
		f.Add(s)
	}
	f.Add(strings.Repeat(" ", 5000) + "99\n")
	p := filepath.Join(f.TempDir(), "pidfile")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPidFile(p)
		v, _, _ := refStrtol10(content)
		if err != nil || got != int(int32(v)) {
			t.Fatalf("ReadPidFile of %q = %d, %v; atoi gives %d", content, got, err, int32(v))
		}
	})
}

// FuzzListenPid: LISTEN_PID is strtol with trailing text ignored, kept in a
// C int, refused when out of range or <= 0 with conmon's message (the value
// cut to 10 bytes); an accepted pid formats and parses back to itself.
func FuzzListenPid(f *testing.F) {
	for _, s := range intSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pid, err := parseListenPid(s)
		v, _, errno := refStrtol10(s)
		if lpid := int32(v); errno != 0 || lpid <= 0 {
			want := "Invalid LISTEN_PID " + s[:min(len(s), 10)] + " " + errnoText(errno)
			if err == nil || err.Error() != want {
				t.Fatalf("parseListenPid(%q) = %d, %v; want error %q", s, pid, err, want)
			}
			return
		}
		if err != nil || pid != int(int32(v)) || pid <= 0 {
			t.Fatalf("parseListenPid(%q) = %d, %v; want %d", s, pid, err, int32(v))
		}
		if again, err := parseListenPid(strconv.Itoa(pid)); err != nil || again != pid {
			t.Fatalf("pid %d re-parsed as %d, %v", pid, again, err)
		}
	})
}
