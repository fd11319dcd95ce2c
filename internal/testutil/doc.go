// Package testutil holds the helpers that the unit tests of several
// packages and the integration tests share: polling for a condition,
// counting open descriptors, quoting for sh and driving a terminal in tmux.
// It is imported only by _test.go files.
package testutil
