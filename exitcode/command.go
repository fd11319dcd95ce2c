package exitcode

// Command is the exit command (--exit-command, --exit-command-arg). It only
// describes the process. The monitor starts it through the launcher and, as
// it is the last child, stops the shared reaper and waits for it with Wait4
// itself (then reaps any zombie left), so no other waiter can steal its
// status.
//
// Rules the starter must follow (§11.4), all observable by podman:
//   - run it after the exit files, the final exec sync message and the attach
//     socket removal, on every normal exit of the monitor once the runtime
//     was spawned (also when creation failed after that point);
//   - before starting it, close every fd >= 3 and drop the child subreaper
//     flag; the child gets stdio = /dev/null, the monitor's environment and
//     the original oom_score_adj;
//   - --exit-delay is slept in the child (the launcher), before exec, so the
//     monitor waits for the delay plus the command's run time, as conmon does;
//   - Path is exec'd as given (execv: no PATH search); if it cannot be
//     executed the child exits 1;
//   - the monitor waits for it; a non-zero exit (or 128+signal) becomes the
//     monitor's own exit status.
type Command struct {
	Path string
	Args []string
}

// Argv is exactly [Path, Args...]: empty arguments are kept and nothing is
// appended (podman passes the container ID itself). Whether there is an
// exit command at all is the caller's call: the monitor runs none for an
// absent or empty --exit-command.
func (c Command) Argv() []string {
	argv := make([]string, 0, 1+len(c.Args))
	return append(append(argv, c.Path), c.Args...)
}
