package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// version is what --version reports. Engines parse it (podman wants
// >= 2.0.1, CRI-O a strict semver and uses >= 2.1.2 to pass
// --log-global-size-max), so it names the conmon release whose interface we
// implement. commit is meant to be set at build time:
//
//	go build -ldflags "-X github.com/shim-project/shim/cli.commit=$(git rev-parse HEAD)" ./cmd/shim
var (
	version = "2.1.6"
	commit  = ""
)

// versionText is conmon's exact --version output (§2).
func versionText() string {
	c := commit
	if c == "" {
		c = "unknown"
	}
	return "conmon version " + version + "\ncommit: " + c + "\n"
}

// WriteVersion writes the --version text to w.
func WriteVersion(w io.Writer) {
	io.WriteString(w, versionText())
}

// WriteHelp writes the --help text to w.
func WriteHelp(w io.Writer) {
	io.WriteString(w, helpText())
}

// helpText renders the option table the way GLib's print_help does for a
// context with only a main group. Tooling greps this text (CRI-O for
// --log-global-size-max, others for --exec and "journald"), so every long
// option is named; unlike GLib we also list the hidden deprecated aliases
// and --help-all, because §2 and §15 ask for every option name and an
// extra line harms no caller.
func helpText() string {
	opts := optionTable()
	width := helpColumn(opts)
	var b strings.Builder
	b.WriteString("Usage:\n  conmon [OPTION\u2026] - conmon utility\n\n")
	b.WriteString("Help Options:\n")
	helpLine(&b, width, "  -h, --help", "Show help options")
	helpLine(&b, width, "  --help-all", "Show all help options")
	b.WriteString("\nApplication Options:\n")
	for _, o := range opts {
		helpLine(&b, width, optionLabel(o), o.desc)
	}
	b.WriteString("\n")
	return b.String()
}

// optionLabel is the left column: "  -b, --bundle" or "  --api-version".
func optionLabel(o option) string {
	if o.short != 0 {
		return fmt.Sprintf("  -%c, --%s", o.short, o.long)
	}
	return "  --" + o.long
}

// helpColumn reproduces GLib's layout arithmetic: the widest visible entry
// (long name, +4 with a short name; at least the width of "-?, --help")
// plus 4 of padding, and the label is then padded to that plus 4.
func helpColumn(opts []option) int {
	widest := utf8.RuneCountInString("-?, --help")
	for _, o := range opts {
		if o.hidden {
			continue // GLib leaves hidden entries out of the arithmetic
		}
		n := utf8.RuneCountInString(o.long)
		if o.short != 0 {
			n += 4
		}
		widest = max(widest, n)
	}
	return widest + 4 + 4
}

// helpLine writes GLib's "%s%*s %s\n": label, padding to the column, one
// space, description.
func helpLine(b *strings.Builder, width int, label, desc string) {
	b.WriteString(label)
	if pad := width - utf8.RuneCountInString(label); pad > 0 {
		b.WriteString(strings.Repeat(" ", pad))
	}
	b.WriteString(" ")
	b.WriteString(desc)
	b.WriteString("\n")
}
