// Package cabi holds what shim needs to behave like a C program, conmon in
// particular: C's integer parsing (strtol), conmon's message prefixes and
// log-level names, errors whose text is conmon's byte for byte, and the
// Linux idioms conmon relies on (binding a unix socket under a path longer
// than sun_path, the start pipe, re-executing /proc/self/exe).
//
// It is the single home for these helpers so that a rule of C (what isspace
// accepts, how strtol overflows) is written down once.
package cabi
