package main

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// steadyListener keeps accepting after errors that pass: a flood of
// connections can run the process out of file descriptors (EMFILE, ENFILE)
// or kernel buffers for a moment, and fasthttp would end Serve on the first
// such error. It waits, longer each time up to a second, and accepts again,
// as net/http does.
type steadyListener struct {
	net.Listener
	logger *slog.Logger
}

// Accept implements net.Listener.
func (l steadyListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || !passing(err) {
			return c, err
		}
		l.logger.Warn("accepting a connection failed; retrying", "error", err.Error(), "in", delay.String())
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}

// passing reports whether an accept error goes away by itself.
func passing(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
