package main

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// steadyListener is the API's listener. It keeps accepting after errors
// that pass: a flood of connections can run the process out of file
// descriptors (EMFILE, ENFILE) or kernel buffers for a moment, and fasthttp
// would end Serve on the first such error; it waits, longer each time up to
// a second, and accepts again, as net/http does. And it caps the
// connections one client address holds at once (perIP, 0 for none): a
// connection past the cap is closed at once. (fasthttp's own MaxConnsPerIP
// closes a connection twice at shutdown and crashes.)
type steadyListener struct {
	net.Listener
	logger *slog.Logger
	perIP  int

	mu   sync.Mutex
	open map[string]int // client address → connections open
}

func newSteadyListener(ln net.Listener, perIP int, logger *slog.Logger) *steadyListener {
	return &steadyListener{Listener: ln, logger: logger, perIP: perIP, open: map[string]int{}}
}

// Accept implements net.Listener.
func (l *steadyListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !passing(err) {
				return nil, err
			}
			l.logger.Warn("accepting a connection failed; retrying", "error", err.Error(), "in", delay.String())
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		if l.perIP <= 0 {
			return c, nil
		}
		ip := addressOf(c)
		l.mu.Lock()
		n := l.open[ip]
		if n < l.perIP {
			l.open[ip] = n + 1
		}
		l.mu.Unlock()
		if n >= l.perIP {
			_ = c.Close()
			continue
		}
		return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *steadyListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip] <= 1 {
		delete(l.open, ip)
		return
	}
	l.open[ip]--
}

// addressOf is the client address of a connection, without its port.
func addressOf(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// countedConn gives its place back once, however often it is closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn.
func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
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
