package logs

// textError carries an exact message dictated by docs/interface.md while keeping
// the underlying error reachable for errors.Is.
type textError struct {
	msg string
	err error
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }
