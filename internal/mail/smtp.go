package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS is how the connection to the SMTP server is encrypted.
type TLS string

// TLS modes of SMTP_URL.
const (
	// TLSImplicit: TLS from the first byte (smtps://, usually port 465).
	TLSImplicit TLS = "implicit"
	// TLSRequired: STARTTLS, and no mail is sent without it (smtp://, the
	// default).
	TLSRequired TLS = "required"
	// TLSOpportunistic: STARTTLS when the server offers it, else plain text.
	TLSOpportunistic TLS = "opportunistic"
	// TLSNone: plain text, for a mail catcher on the same host or network.
	TLSNone TLS = "none"
)

// DefaultTimeout bounds connecting to the SMTP server and each exchange
// with it.
const DefaultTimeout = 30 * time.Second

// SMTPConfig is where and how mail is sent, parsed from SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      TLS
	// Auth is the SASL mechanism: "" lets go-mail pick the strongest the
	// server offers (PLAIN and LOGIN only over TLS); "plain", "login" or
	// "cram-md5" force one.
	Auth    string
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (the system's roots,
	// verifying Host); tests use it for a server of their own.
	TLSConfig *tls.Config
}

// ParseURL reads SMTP_URL:
//
//	smtp://[user:password@]host[:port][?starttls=required|opportunistic|none][&auth=plain|login|cram-md5][&timeout=30s]
//	smtps://[user:password@]host[:port][?auth=...][&timeout=...]
//
// smtp:// defaults to port 587 with STARTTLS required; smtps:// to port 465
// with TLS from the start. The user and password are URL-encoded. Its
// errors never repeat the URL, which may hold a password.
func ParseURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(raw)
	if err != nil {
		return c, errors.New("is not a valid URL")
	}
	switch u.Scheme {
	case "smtp":
		c.TLS, c.Port = TLSRequired, 587
	case "smtps":
		c.TLS, c.Port = TLSImplicit, 465
	default:
		return c, errors.New("must use the scheme smtp or smtps")
	}
	c.Host = u.Hostname()
	if c.Host == "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		return c, errors.New("must be smtp://[user:password@]host[:port] or smtps://...")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return c, errors.New("has a port that is not a number from 1 to 65535")
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	for key := range q {
		switch key {
		case "starttls", "auth", "timeout":
		default:
			return c, fmt.Errorf("has an unknown parameter %q (starttls, auth and timeout are known)", key)
		}
	}
	if v := q.Get("starttls"); v != "" {
		if c.TLS == TLSImplicit {
			return c, errors.New("cannot combine smtps:// (TLS from the start) with starttls")
		}
		switch TLS(v) {
		case TLSRequired, TLSOpportunistic, TLSNone:
			c.TLS = TLS(v)
		default:
			return c, errors.New("starttls must be required, opportunistic or none")
		}
	}
	switch c.Auth = strings.ToLower(q.Get("auth")); c.Auth {
	case "", "plain", "login", "cram-md5":
	default:
		return c, errors.New("auth must be plain, login or cram-md5 (or left out to pick the strongest the server offers)")
	}
	if c.Auth != "" && c.Username == "" {
		return c, errors.New("auth needs a user and password in the URL")
	}
	c.Timeout = DefaultTimeout
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Minute {
			return c, errors.New("timeout must be a duration from 1s to 1m")
		}
		c.Timeout = d
	}
	return c, nil
}

// SMTPSender sends mail through an SMTP server, one connection per message:
// mail is rare next to payments, and a connection of its own per task keeps
// a stale connection from failing the next one.
type SMTPSender struct {
	cfg  SMTPConfig
	from string
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender sends through cfg's server as from (MAIL_FROM).
func NewSMTPSender(cfg SMTPConfig, from string) (*SMTPSender, error) {
	if _, err := ParseFrom(from); err != nil {
		return nil, fmt.Errorf("mail: MAIL_FROM %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &SMTPSender{cfg: cfg, from: from}, nil
}

// Via implements Sender.
func (s *SMTPSender) Via() string { return "smtp" }

// Send implements Sender. A recipient the server refuses for good (5xx to
// RCPT TO, other than a 5.7.x policy refusal, which is usually our own
// configuration) is ErrPermanent; anything else, a 4xx, a refused
// connection, failed authentication, may pass on a later try. Errors show
// the recipient masked.
func (s *SMTPSender) Send(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	msg, err := s.build(m)
	if err != nil {
		return err
	}
	client, err := gomail.NewClient(s.cfg.Host, s.options()...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(err, m.To)
	}
	return nil
}

func (s *SMTPSender) options() []gomail.Option {
	c := s.cfg
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout)}
	tlsConfig := c.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	switch c.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if c.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		switch c.Auth {
		case "plain":
			auth = gomail.SMTPAuthPlain
		case "login":
			auth = gomail.SMTPAuthLogin
		case "cram-md5":
			auth = gomail.SMTPAuthCramMD5
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	return opts
}

// build turns m into go-mail's message.
func (s *SMTPSender) build(m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("mail: MAIL_FROM: %w", err)
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return nil, invalid("recipient: not a plain email address")
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		err := msg.AttachReader(a.Filename, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType)))
		if err != nil {
			return nil, invalid("attachment %q: %v", a.Filename, err)
		}
	}
	return msg, nil
}

// classify maps go-mail's error to ours, with the recipient masked.
func classify(err error, to string) error {
	text := maskIn(err.Error(), to)
	var se *gomail.SendError
	if errors.As(err, &se) && permanent(se) {
		return fmt.Errorf("mail: %s: %w", text, ErrPermanent)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("mail: timed out: %s", text)
	}
	return fmt.Errorf("mail: %s", text)
}

func permanent(se *gomail.SendError) bool {
	switch se.Reason {
	case gomail.ErrGetRcpts:
		return true
	case gomail.ErrSMTPRcptTo:
		return !se.IsTemp() && se.ErrorCode() >= 500 && !strings.HasPrefix(se.EnhancedStatusCode(), "5.7.")
	}
	return false
}
