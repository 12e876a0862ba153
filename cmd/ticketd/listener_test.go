package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first accepts with errs, then accepts.
type flakyListener struct {
	net.Listener
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	c, _ := net.Pipe()
	return c, nil
}

func TestSteadyListenerOutlivesRunningOutOfFiles(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: fmt.Errorf("accept4: %w", syscall.EMFILE)}
	l := newSteadyListener(&flakyListener{errs: []error{emfile, emfile, syscall.ENFILE}}, 0, quiet)
	c, err := l.Accept()
	if err != nil || c == nil {
		t.Fatalf("accept after running out of files: %v", err)
	}
	c.Close()
	closed := newSteadyListener(&flakyListener{errs: []error{net.ErrClosed}}, 0, quiet)
	if _, err := closed.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a closed listener: %v, want net.ErrClosed", err)
	}
}

// TestSteadyListenerCapsConnectionsPerAddress: past the cap a client's new
// connection is closed at once; closing one of its others makes room.
func TestSteadyListenerCapsConnectionsPerAddress(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newSteadyListener(raw, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first, _ := dial(), dial()
	server := <-accepted
	<-accepted
	// The third is closed by the server: reading it ends.
	third := dial()
	_ = third.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := third.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a third connection from one address: read %v, want EOF", err)
	}
	// Closing one (twice, as fasthttp may) makes room for exactly one.
	server.Close()
	server.Close()
	first.Close()
	dial()
	select {
	case <-accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("no room after a connection closed")
	}
	l.mu.Lock()
	n := l.open["127.0.0.1"]
	l.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d connections counted for the address, want 2", n)
	}
}
