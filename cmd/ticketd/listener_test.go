package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
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
	l := steadyListener{Listener: &flakyListener{errs: []error{emfile, emfile, syscall.ENFILE}}, logger: quiet}
	c, err := l.Accept()
	if err != nil || c == nil {
		t.Fatalf("accept after running out of files: %v", err)
	}
	c.Close()
	closed := steadyListener{Listener: &flakyListener{errs: []error{net.ErrClosed}}, logger: quiet}
	if _, err := closed.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a closed listener: %v, want net.ErrClosed", err)
	}
}
