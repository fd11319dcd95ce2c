package attach

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shim-project/shim/cio/stream"
	"github.com/shim-project/shim/internal/testutil"
)

// tagged is output as (stream, byte) pairs, so order across streams counts.
type tagged struct{ data, streams []byte }

func (g *tagged) add(id byte, p []byte) {
	g.data = append(g.data, p...)
	g.streams = append(g.streams, bytes.Repeat([]byte{id}, len(p))...)
}

// readAll reads datagrams until EOF.
func readAll(c *net.UnixConn) (tagged, error) {
	var g tagged
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		n, err := c.Read(buf)
		if n > 1 {
			g.add(buf[0], buf[1:n])
		}
		if err != nil || n == 0 {
			return g, nil
		}
	}
}

// A client that connects after output was written gets the last N bytes
// of it, both streams in order, then live output; with no scrollback, only
// live output.
func TestScrollbackReplay(t *testing.T) {
	s, _ := newServer(t, Options{Scrollback: 10})
	s.Broadcast(stream.Stdout, []byte("old-out\n"))
	s.Broadcast(stream.Stderr, []byte("err\n"))
	s.Broadcast(stream.Stdout, []byte("out\n"))
	c := connect(t, s, s.opts.Bundle)
	s.Broadcast(stream.Stderr, []byte("live"))
	var got, want tagged
	for len(got.data) < 14 {
		d := readDatagram(t, c)
		got.add(d[0], d[1:])
	}
	want.add(2, []byte("t\n"))
	want.add(3, []byte("err\n"))
	want.add(2, []byte("out\n"))
	want.add(3, []byte("live"))
	if !bytes.Equal(got.data, want.data) || !bytes.Equal(got.streams, want.streams) {
		t.Fatalf("got %q %v, want %q %v", got.data, got.streams, want.data, want.streams)
	}
	if st := s.Stats(); st.Replays != 1 || st.ReplayBytes != 10 {
		t.Errorf("stats %+v", st)
	}

	off, _ := newServer(t, Options{})
	off.Broadcast(stream.Stdout, []byte("before"))
	c = connect(t, off, off.opts.Bundle)
	off.Broadcast(stream.Stdout, []byte("after"))
	if d := readDatagram(t, c); string(d) != "\x02after" {
		t.Fatalf("without scrollback got %q", d)
	}
}

// Clients connecting while output flows on both streams: each gets a
// suffix of the whole output, with no byte lost or repeated at the seam
// between the replay and live output, and at least the scrollback's worth.
func TestScrollbackSeam(t *testing.T) {
	const keep = 4096
	s, _ := newServer(t, Options{Scrollback: keep})
	var all tagged
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20000; i++ {
			st := stream.Stdout
			if i%3 == 0 {
				st = stream.Stderr
			}
			p := []byte(fmt.Sprintf("line %d\n", i))
			mu.Lock()
			all.add(st.AttachID(), p)
			mu.Unlock()
			s.Broadcast(st, p)
		}
	}()
	var wg sync.WaitGroup
	results := make([]tagged, 20)
	for i := range results {
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		c := dial(t, s.opts.Bundle)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = readAll(c)
		}()
	}
	<-done
	// Every client must be in before the end, or it rightly gets nothing.
	testutil.Eventually(t, 5*time.Second, "all clients accepted", func() bool { return s.Stats().Accepted == uint64(len(results)) })
	s.Close()
	wg.Wait()
	for i, g := range results {
		k := len(all.data) - len(g.data)
		if k < 0 || !bytes.Equal(g.data, all.data[k:]) || !bytes.Equal(g.streams, all.streams[k:]) {
			t.Fatalf("client %d: %d bytes are not the output's last %d (a byte lost, repeated or out of order)", i, len(g.data), len(g.data))
		}
		if len(g.data) < min(keep, len(all.data)) {
			t.Errorf("client %d got %d bytes, less than the scrollback", i, len(g.data))
		}
	}
}
