package testutil

import "strings"

// ShellQuote quotes s as one word for sh: inside single quotes nothing is
// special, and each single quote inside s becomes quote, backslash, quote, quote.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes each of args and joins them into one sh command line.
func ShellJoin(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}
