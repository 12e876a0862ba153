// Package mail sends ticketd's mail to buyers: the Message, the Senders that
// deliver it (SMTP through github.com/wneessen/go-mail, or a log line when
// SMTP_URL is not set), the mails themselves rendered from what the database
// says (BookingConfirmed), and the Postman that sends what the outbox holds.
package mail

import (
	"context"
	"errors"
	"fmt"
	"mime"
	netmail "net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of one message, checked before anything is sent: a mail is built
// from organizer-supplied text (event titles, ticket type names) and later
// from generated PDFs, and none of it may grow without limit.
const (
	MaxSubjectRunes    = 250
	MaxBodyBytes       = 1 << 20 // each of the text and the HTML body
	MaxAttachments     = 10
	MaxAttachmentBytes = 10 << 20 // all attachments together
	maxNameRunes       = 200
	maxAddressBytes    = 254
)

// Attachment is a file sent with a message.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Message is one mail to one recipient.
type Message struct {
	// To is the recipient's address (no display name); ToName, optional,
	// is shown with it.
	To     string
	ToName string
	// Subject and Text are required; HTML, when set, is the alternative a
	// mail reader shows instead of Text.
	Subject     string
	Text        string
	HTML        string
	Attachments []Attachment
}

// Size is the number of bytes of the message's bodies and attachments.
func (m *Message) Size() int {
	n := len(m.Text) + len(m.HTML)
	for _, a := range m.Attachments {
		n += len(a.Data)
	}
	return n
}

// ErrPermanent marks a failure that sending the same message again cannot
// fix: the message is invalid, or the server refused its recipient.
var ErrPermanent = errors.New("permanent")

// Sender delivers messages.
type Sender interface {
	// Send delivers m. An error wrapping ErrPermanent will not go away by
	// sending again; any other may.
	Send(ctx context.Context, m *Message) error
	// Via names how Send delivers ("smtp" or "log"), as the outbox
	// records it.
	Via() string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("mail: invalid message: %s: %w", fmt.Sprintf(format, args...), ErrPermanent)
}

// Validate checks what goes into headers (no line breaks or other control
// characters, so nothing can add a header) and the bounds of the message.
func (m *Message) Validate() error {
	if err := ValidAddress(m.To); err != nil {
		return invalid("recipient: %v", err)
	}
	if !headerSafe(m.ToName) || utf8.RuneCountInString(m.ToName) > maxNameRunes {
		return invalid("the recipient's name must be at most %d characters without control characters", maxNameRunes)
	}
	if strings.TrimSpace(m.Subject) == "" || !headerSafe(m.Subject) || utf8.RuneCountInString(m.Subject) > MaxSubjectRunes {
		return invalid("the subject must be 1 to %d characters without control characters", MaxSubjectRunes)
	}
	if m.Text == "" || len(m.Text) > MaxBodyBytes || !utf8.ValidString(m.Text) {
		return invalid("the text body must be 1 byte to %d bytes of UTF-8", MaxBodyBytes)
	}
	if len(m.HTML) > MaxBodyBytes || !utf8.ValidString(m.HTML) {
		return invalid("the HTML body must be at most %d bytes of UTF-8", MaxBodyBytes)
	}
	if len(m.Attachments) > MaxAttachments {
		return invalid("at most %d attachments", MaxAttachments)
	}
	total := 0
	for _, a := range m.Attachments {
		total += len(a.Data)
		if a.Filename == "" || !headerSafe(a.Filename) || strings.ContainsAny(a.Filename, `/\"`) || utf8.RuneCountInString(a.Filename) > maxNameRunes {
			return invalid("an attachment's file name must be 1 to %d characters without control characters, slashes or quotes", maxNameRunes)
		}
		if mt, _, err := mime.ParseMediaType(a.ContentType); err != nil || !strings.Contains(mt, "/") || !headerSafe(a.ContentType) {
			return invalid("attachment %q: content type %q is not a media type", a.Filename, a.ContentType)
		}
	}
	if total > MaxAttachmentBytes {
		return invalid("attachments must total at most %d bytes", MaxAttachmentBytes)
	}
	return nil
}

// ValidAddress checks that addr is one plain address (local@domain, without
// a display name or angle brackets) that fits in a header.
func ValidAddress(addr string) error {
	if addr == "" || len(addr) > maxAddressBytes || !headerSafe(addr) || strings.ContainsAny(addr, " <>,;\"") {
		return errors.New("not a plain email address")
	}
	a, err := netmail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr, "@") {
		return errors.New("not a plain email address")
	}
	return nil
}

// ParseFrom checks a sender such as `ticketd <no-reply@example.com>` (or a
// plain address) and returns it parsed.
func ParseFrom(from string) (*netmail.Address, error) {
	if !headerSafe(from) {
		return nil, errors.New("must be one address without control characters")
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, errors.New("must be an address such as `ticketd <no-reply@tickets.example.com>`")
	}
	if err := ValidAddress(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// headerSafe reports whether s is valid UTF-8 without control characters:
// a CR or LF would end the header and start another.
func headerSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// MaskAddress hides an address for logs: the first character of the local
// part and the domain stay (b***@example.com), enough to tell mails apart
// without writing anyone's address down.
func MaskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "***"
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// maskIn replaces every occurrence of addr in text, in any case, with its
// masked form: servers echo the recipient in their replies, which end up in
// errors, logs and the outbox.
func maskIn(text, addr string) string {
	if addr == "" {
		return text
	}
	return regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllLiteralString(text, MaskAddress(addr))
}
