package integration

// A slow or stuck attach client (issue 3, attach/backpressure.go): conmon
// writes to clients blocking, so a slow reader slows the container and one
// that stops reading stops it for good. shim waits for clients that read, so
// none loses output, and drops a client that takes nothing for the stall
// bound (5 s), so a stuck one stalls the container once, briefly.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shim-project/shim/internal/testutil"
)

const (
	slowLine  = "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678\n" // 100 bytes
	slowLines = 1 << 20                                                                                                 // 100 MiB of 100-byte lines
	slowEnd   = "written\n"
)

func TestAttachStuckClient(t *testing.T) {
	if isRef {
		t.Skip("conmon writes to attach clients blocking: a client that never reads stalls it and the container for good (shim-only behaviour)")
	}
	records := listenSyslog(t)
	r := startMon(t, monOpts{Extra: []string{"--syslog"}, Args: []string{"sh", "-c",
		"yes " + strings.TrimSuffix(slowLine, "\n") + " | head -n 1048576; echo written; exec sleep 100000"}})
	r.created()
	attachPath := filepath.Join(r.Bundle, "attach")
	stuck := dialPacket(t, attachPath) // connects and never reads
	defer stuck.Close()
	reader := dialAttach(t, attachPath)
	t0 := time.Now()
	r.startCtr()

	testutil.Eventually(t, 5*time.Minute, "the container to write 100 MiB past a stuck client", func() bool {
		return strings.HasSuffix(fileTail(r.LogPath, 64), " stdout F "+slowEnd)
	})
	t.Logf("100 MiB written and logged in %v with one stuck and one reading client", time.Since(t0))

	// The stuck client was dropped, with a warning: after what its socket
	// buffer holds it reads EOF while the container still runs.
	got, err := drainPacket(stuck, 10*time.Second)
	if err != nil {
		t.Fatalf("stuck client: %v after %d bytes; want EOF (disconnected while the container runs)", err, len(got))
	}
	checkSlowPrefix(t, "stuck client", got)
	if len(got) >= slowLines*len(slowLine) {
		t.Fatalf("the stuck client's socket held all %d bytes: it was never behind", len(got))
	}
	testutil.Eventually(t, 10*time.Second, "the warning about the stuck client on syslog", func() bool {
		return records.has("took no output for 5s") && records.has("disconnecting it")
	})

	// The reading client was waited for: it has everything, in order.
	testutil.Eventually(t, 30*time.Second, "the reading client to receive everything", func() bool {
		return reader.endsWith(2, slowEnd) || isClosed(reader.done)
	})
	if isClosed(reader.done) {
		t.Fatalf("the reading client was disconnected after %d bytes", reader.received())
	}
	checkSlowPrefix(t, "reading client", []byte(reader.stream(2)))
	if !alive(r.Daemon) {
		t.Fatal("monitor died")
	}
	if out, code := r.runc("kill", r.ID, "KILL"); code != 0 {
		t.Fatalf("runc kill: %s", out)
	}
	r.finish("137")
	checkSlowLog(t, r.LogPath)
}

// TestPodmanRunSlowConsumer: `podman run ... | consumer` gets the whole
// output even when the consumer pauses (podman's own attach client then
// stops reading for a while). Dropping a lagging client would cut it short.
func TestPodmanRunSlowConsumer(t *testing.T) {
	pod := setupPodman(t)
	t.Run("pauses_while_running", func(t *testing.T) {
		// 20 MB: the container is still writing during both pauses.
		slowConsumer(t, pod, 20000000, 2*time.Second, 5<<20, 2*time.Second)
	})
	t.Run("pause_at_exit", func(t *testing.T) {
		// 800 kB fit in the queue and socket buffers: the container exits
		// while the consumer has not started; the tail must still arrive.
		slowConsumer(t, pod, 800000, 1500*time.Millisecond, 0, 0)
	})
}

// slowConsumer runs a container printing size bytes of slowLine and reads
// podman's stdout after pause1, then after n1 bytes pauses pause2.
func slowConsumer(t *testing.T, pod *podman, size int, pause1 time.Duration, n1 int64, pause2 time.Duration) {
	cmd := pod.cmd("run", "--rm", testImage, "sh", "-c",
		fmt.Sprintf("yes %s | head -c %d", strings.TrimSuffix(slowLine, "\n"), size))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	h := sha256.New()
	time.Sleep(pause1) // a pipeline that is slow to start
	got, _ := io.CopyN(h, out, n1)
	time.Sleep(pause2) // and stops for a moment
	n2, _ := io.Copy(h, out)
	got += n2
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman run: %v\nstderr: %s", err, stderr.String())
	}
	want := sha256.New()
	for i := 0; i < size/len(slowLine); i++ {
		want.Write([]byte(slowLine))
	}
	want.Write([]byte(slowLine[:size%len(slowLine)]))
	if got != int64(size) || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Fatalf("podman run delivered %d bytes (sha256 %x), want %d (sha256 %x)", got, h.Sum(nil), size, want.Sum(nil))
	}
}

// syslogRecords collects what the monitor sends to a syslog socket of the
// test's own (the _SHIM_TEST_SYSLOG_SOCKET hook, see syslog_test.go).
type syslogRecords struct {
	mu   chan struct{}
	recs []string
}

func listenSyslog(t *testing.T) *syslogRecords {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "log")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	t.Setenv("_SHIM_TEST_SYSLOG_SOCKET", sock)
	r := &syslogRecords{mu: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 8192)
		for {
			n, err := l.Read(buf)
			if err != nil {
				return
			}
			r.mu <- struct{}{}
			r.recs = append(r.recs, string(buf[:n]))
			<-r.mu
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			r.mu <- struct{}{}
			t.Logf("syslog records: %q", r.recs)
			<-r.mu
		}
	})
	return r
}

func (r *syslogRecords) has(s string) bool {
	r.mu <- struct{}{}
	defer func() { <-r.mu }()
	for _, rec := range r.recs {
		if strings.Contains(rec, s) {
			return true
		}
	}
	return false
}

// fileTail returns the last n bytes of path.
func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	n2, _ := f.ReadAt(b, off)
	return string(b[:n2])
}

// drainPacket reads one client's datagrams until EOF (nil error) or until
// nothing arrives for quiet. It returns the stdout payload.
func drainPacket(c *net.UnixConn, quiet time.Duration) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := c.Read(buf)
		if n > 0 {
			out.Write(buf[1:n])
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// checkSlowPrefix fails unless b is a prefix of the container's output.
func checkSlowPrefix(t *testing.T, who string, b []byte) {
	t.Helper()
	full := len(slowLine) * slowLines
	if len(b) > full {
		if string(b[full:]) != slowEnd[:min(len(slowEnd), len(b)-full)] {
			t.Fatalf("%s: %q after the 100 MiB", who, head(string(b[full:]), 100))
		}
		b = b[:full]
	}
	for off := 0; off < len(b); off += len(slowLine) {
		end := min(off+len(slowLine), len(b))
		if string(b[off:end]) != slowLine[:end-off] {
			t.Fatalf("%s: bytes %d..%d are %q, want a prefix of the output", who, off, end, b[off:end])
		}
	}
}

// checkSlowLog streams the k8s-file log (≈150 MB) and checks that it holds
// every line of the output exactly once, in order.
func checkSlowLog(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var (
		pos     int // offset in the expected output
		entries int
		full    = len(slowLine) * slowLines
		want    = func(i int) byte {
			if i < full {
				return slowLine[i%len(slowLine)]
			}
			return slowEnd[i-full]
		}
	)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			t.Fatalf("log entry %d longer than 1 MiB", entries)
		}
		if len(line) == 0 && err != nil {
			break
		}
		entries++
		// "<35-byte timestamp> stdout F|P <content>"
		if len(line) < 46 || !logLineRe.Match(line[:min(len(line), 60)]) || string(line[35:43]) != " stdout " {
			t.Fatalf("log entry %d malformed: %q", entries, head(string(line), 100))
		}
		content := line[45:]
		if line[43] == 'P' {
			content = content[:len(content)-1]
		}
		for _, c := range content {
			if pos >= full+len(slowEnd) || c != want(pos) {
				t.Fatalf("log entry %d: byte %d of the output is %q, want %q", entries, pos, c, want(pos))
			}
			pos++
		}
	}
	if pos != full+len(slowEnd) {
		t.Fatalf("log holds %d bytes of output in %d entries, want %d", pos, entries, full+len(slowEnd))
	}
	t.Logf("log: %d entries, all %d bytes of output in order", entries, pos)
}
