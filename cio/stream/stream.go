// Package stream names the container's output streams. It is the one
// stream type of the data path: the poller tags each chunk with it, the
// log drivers write it into their entries, and the attach socket turns it
// into its frame id. It imports nothing, so every package can share it.
package stream

// Stream says which container output a chunk came from. The values are the
// file descriptor numbers, so the zero value is not a valid stream.
type Stream uint8

const (
	Stdout Stream = 1 // with a terminal, all of the pty's output
	Stderr Stream = 2
)

// Index maps a stream to 0/1 for per-stream state; ok is false for a value
// that is no stream.
func (s Stream) Index() (i int, ok bool) {
	switch s {
	case Stdout:
		return 0, true
	case Stderr:
		return 1, true
	}
	return 0, false
}

// AttachID is the stream's id byte in attach socket frames (§8.2): 2 for
// stdout, 3 for stderr; 0 (never sent) for a value that is no stream.
func (s Stream) AttachID() byte {
	switch s {
	case Stdout:
		return 2
	case Stderr:
		return 3
	}
	return 0
}

func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "invalid"
}
