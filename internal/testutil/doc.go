// Package testutil holds the helpers that the unit tests of several
// packages and the integration tests share: polling for a condition,
// counting open descriptors, quoting for sh and driving a terminal in tmux.
// Tests import it, and so do the measuring tools under hack/ (bundles).
package testutil
