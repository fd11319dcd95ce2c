package exitcode

import "time"

// Command is the exit command (--exit-command, --exit-command-arg,
// --exit-delay). It only describes the process; the monitor starts it
// through the shared reaper, since nothing else may wait for children.
//
// Rules the starter must follow (§11.4), all observable by podman:
//   - run it after the exit files, the final exec sync message and the attach
//     socket removal, on every normal exit of the monitor once the runtime
//     was spawned (also when creation failed after that point);
//   - before starting it, close every fd >= 3 and drop the child subreaper
//     flag; the child gets stdio = /dev/null, the monitor's environment and
//     the original oom_score_adj;
//   - Delay is slept in the child, before exec (so the monitor waits for
//     Delay plus the command's run time, as conmon does);
//   - Path is exec'd as given (execv: no PATH search); if it cannot be
//     executed the child exits 1;
//   - the monitor waits for it; a non-zero exit (or 128+signal) becomes the
//     monitor's own exit status.
type Command struct {
	Path  string
	Args  []string
	Delay time.Duration
}

// Argv is exactly [Path, Args...]: empty arguments are kept and nothing is
// appended (podman passes the container ID itself). Whether there is an
// exit command at all is the caller's call (--exit-command given, even as
// "": conmon then runs execv("") and the child exits 1).
func (c Command) Argv() []string {
	argv := make([]string, 0, 1+len(c.Args))
	return append(append(argv, c.Path), c.Args...)
}
