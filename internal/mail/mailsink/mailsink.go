// Package mailsink is an SMTP server that delivers nowhere: `ticketd dev`
// points its mail at one on loopback, keeps the last mails in memory and
// lists them on a web page, so a developer sees what ticketd sent without an
// SMTP account; tests use it as the real SMTP server they talk to. It
// speaks SMTP through github.com/emersion/go-smtp.
package mailsink

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	netmail "net/mail"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ticketd-io/ticketd/internal/mail"
)

// Bounds of what the sink keeps: it runs on a laptop, beside everything else.
const (
	DefaultKeep     = 200
	maxMessageBytes = 20 << 20 // a message with the largest attachments mail.Message allows
	maxKeptBytes    = 128 << 20
)

// Config configures a Sink.
type Config struct {
	// Keep is how many mails are kept, the oldest dropped first
	// (DefaultKeep when 0).
	Keep int
	// Username and Password, when set, must be given with AUTH PLAIN
	// before a mail is accepted (over plain text: the sink is for loopback).
	Username, Password string
	// Reject, when set, answers each recipient (RCPT TO): an error, such as
	// an *smtp.SMTPError with a 4xx or 5xx code, refuses it. Tests play a
	// server that refuses mail with it.
	Reject func(to string) error
	// TLSConfig, when set, is offered with STARTTLS (tests of the client's
	// TLS); Serve a tls.Listener for TLS from the first byte.
	TLSConfig *tls.Config
}

// Mail is one mail the sink received.
type Mail struct {
	ID int
	At time.Time
	// From and To are the envelope (MAIL FROM, RCPT TO); User is who
	// authenticated, if anyone.
	From string
	To   []string
	User string
	// TLS reports whether the mail came over TLS (STARTTLS or implicit).
	TLS bool
	// Header is the message's header; Subject is decoded from it.
	Header      netmail.Header
	Subject     string
	Text, HTML  string
	Attachments []mail.Attachment
	// Raw is the message as received.
	Raw []byte
}

// Sink receives mail over SMTP and keeps it.
type Sink struct {
	cfg  Config
	smtp *smtp.Server

	mu    sync.Mutex
	mails []*Mail // oldest first
	size  int
	next  int
	// closed is set by Close; listeners are those Serve was given, which
	// Close closes itself: the SMTP server closes only the listeners it
	// has registered, and a Close that comes before Serve registers one
	// would leave Serve accepting forever.
	closed    bool
	listeners []net.Listener
}

// New returns a Sink; Serve starts it.
func New(cfg Config) *Sink {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	s := &Sink{cfg: cfg, next: 1}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{sink: s, conn: c}, nil }))
	srv.TLSConfig = cfg.TLSConfig
	srv.Domain = "ticketd-dev-mail"
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 50
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = true
	srv.ErrorLog = discard{}
	s.smtp = srv
	return s
}

// Serve accepts SMTP connections on ln until Close.
func (s *Sink) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	err := s.smtp.Serve(ln)
	if s.isClosed() {
		return nil // the listener was closed under it
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the SMTP server and closes its listeners and connections,
// whether or not Serve has started on them yet.
func (s *Sink) Close() error {
	s.mu.Lock()
	s.closed = true
	listeners := s.listeners
	s.mu.Unlock()
	for _, ln := range listeners {
		_ = ln.Close()
	}
	return s.smtp.Close()
}

func (s *Sink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Mails returns the mails kept, oldest first.
func (s *Sink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Mail, len(s.mails))
	for i, m := range s.mails {
		out[i] = *m
	}
	return out
}

// mail returns the kept mail with id, or nil.
func (s *Sink) mail(id int) *Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.mails {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (s *Sink) keep(m *Mail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ID = s.next
	s.next++
	s.mails = append(s.mails, m)
	s.size += len(m.Raw)
	for len(s.mails) > s.cfg.Keep || s.size > maxKeptBytes {
		s.size -= len(s.mails[0].Raw)
		s.mails[0] = nil
		s.mails = s.mails[1:]
	}
}

// session is one SMTP conversation.
type session struct {
	sink   *Sink
	conn   *smtp.Conn
	user   string
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (c *session) AuthMechanisms() []string {
	if c.sink.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (c *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != c.sink.cfg.Username || password != c.sink.cfg.Password {
			return smtp.ErrAuthFailed
		}
		c.user, c.authed = username, true
		return nil
	}), nil
}

func (c *session) allowed() error {
	if c.sink.cfg.Username != "" && !c.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (c *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := c.allowed(); err != nil {
		return err
	}
	c.from = from
	return nil
}

func (c *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := c.allowed(); err != nil {
		return err
	}
	if c.sink.cfg.Reject != nil {
		if err := c.sink.cfg.Reject(to); err != nil {
			return err
		}
	}
	c.to = append(c.to, to)
	return nil
}

func (c *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "cannot read the message: " + err.Error()}
	}
	m.At, m.From, m.To, m.User, m.Raw = time.Now(), c.from, slices.Clone(c.to), c.user, bytes.Clone(raw)
	_, m.TLS = c.conn.TLSConnectionState()
	c.sink.keep(m)
	return nil
}

func (c *session) Reset() { c.from, c.to = "", nil }

func (c *session) Logout() error { return nil }

// discard drops go-smtp's own error log (a client that hangs up, say).
type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
