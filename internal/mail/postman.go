package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Outbox is the database side of mail (postgres.MailStore): the mails due,
// one row each, and what they say.
type Outbox interface {
	// ClaimMail takes the unsent mail of a kind for a booking for claimFor,
	// so no other worker sends it meanwhile. It returns nil when the mail
	// was sent or given up before, an error while another worker holds it,
	// and a NotFound error when there is no such mail.
	ClaimMail(ctx context.Context, kind ticketing.MailKind, bookingID string, claimFor time.Duration) (*ticketing.MailDue, error)
	BookingConfirmation(ctx context.Context, bookingID string) (*ticketing.BookingConfirmation, error)
	MarkMailSent(ctx context.Context, id, via string) error
	MarkMailFailed(ctx context.Context, id, why string) error
	// ReleaseMail lets go of a claim after a failure that may pass.
	ReleaseMail(ctx context.Context, id, why string) error
	// UnsentMail lists mails neither sent nor given up, written down more
	// than age ago and not held by a worker now, oldest first.
	UnsentMail(ctx context.Context, age time.Duration, limit int) ([]ticketing.MailDue, error)
}

// ClaimFor is how long a worker holds a mail it sends: longer than any one
// send takes, so a worker that died holding one delays it at most that long.
const ClaimFor = 10 * time.Minute

// Postman sends the mails of the outbox.
type Postman struct {
	outbox Outbox
	sender Sender
	logger *slog.Logger
	attach map[ticketing.MailKind]Attacher
}

// Attacher gives the attachments of a booking's mail (the tickets as PDF);
// an error fails the send, to be retried.
type Attacher func(ctx context.Context, bookingID string) ([]Attachment, error)

// Attach has mails of kind carry what attacher gives. Call it before the
// first Deliver.
func (p *Postman) Attach(kind ticketing.MailKind, attacher Attacher) {
	if p.attach == nil {
		p.attach = map[ticketing.MailKind]Attacher{}
	}
	p.attach[kind] = attacher
}

// NewPostman sends outbox's mails through sender.
func NewPostman(outbox Outbox, sender Sender, logger *slog.Logger) *Postman {
	return &Postman{outbox: outbox, sender: sender, logger: logger}
}

// errNotDue marks a mail that is no longer worth sending.
var errNotDue = errors.New("not due")

// Deliver sends the mail of a kind for a booking of the context's tenant,
// once: it claims the outbox row, renders the mail from the database, sends
// it and records it sent. A mail recorded sent is never sent again; one
// whose sending succeeded but whose recording failed is sent again by the
// retry (a duplicate is better than a lost mail). An error wrapping
// ErrPermanent is recorded as such and will not pass on a retry.
func (p *Postman) Deliver(ctx context.Context, kind ticketing.MailKind, bookingID string) error {
	due, err := p.outbox.ClaimMail(ctx, kind, bookingID, ClaimFor)
	if err != nil || due == nil {
		return err
	}
	// What follows the claim is recorded even if the task's deadline has
	// passed: a recorded failure frees the claim for the retry at once.
	record := context.WithoutCancel(ctx)
	m, err := p.render(ctx, due)
	if errors.Is(err, errNotDue) {
		return p.outbox.MarkMailFailed(record, due.ID, "not sent: "+err.Error())
	}
	if err == nil {
		err = p.sender.Send(ctx, m)
	}
	switch {
	case err == nil:
		return p.outbox.MarkMailSent(record, due.ID, p.sender.Via())
	case errors.Is(err, ErrPermanent):
		p.logger.WarnContext(ctx, "mail given up", "kind", kind, "booking", bookingID, "error", err.Error())
		return errors.Join(err, p.outbox.MarkMailFailed(record, due.ID, err.Error()))
	default:
		return errors.Join(err, p.outbox.ReleaseMail(record, due.ID, err.Error()))
	}
}

func (p *Postman) render(ctx context.Context, due *ticketing.MailDue) (*Message, error) {
	switch due.Kind {
	case ticketing.MailBookingConfirmed:
		c, err := p.outbox.BookingConfirmation(ctx, due.BookingID)
		if err != nil {
			return nil, err
		}
		if c.Status != ticketing.BookingConfirmed {
			// Refunded or put under review before the mail went out:
			// "confirmed" would no longer be true.
			return nil, fmt.Errorf("the booking is %s: %w", c.Status, errNotDue)
		}
		m, err := BookingConfirmed(c)
		if err != nil {
			return nil, err
		}
		if attach := p.attach[due.Kind]; attach != nil {
			files, err := attach(ctx, due.BookingID)
			if err != nil {
				return nil, fmt.Errorf("mail: attachments: %w", err)
			}
			m.Attachments = append(m.Attachments, files...)
		}
		return m, nil
	case ticketing.MailEventCancelled, ticketing.MailBookingRefunded:
		c, err := p.outbox.BookingConfirmation(ctx, due.BookingID)
		if err != nil {
			return nil, err
		}
		// Both mails tell the buyer their tickets are void, which is
		// true only once the booking is refunded (the cancellation or the
		// refund in full voids it).
		if c.Status != ticketing.BookingRefunded {
			return nil, fmt.Errorf("the booking is %s: %w", c.Status, errNotDue)
		}
		if due.Kind == ticketing.MailEventCancelled {
			return EventCancelled(c)
		}
		if c.Refunded <= 0 {
			// Its refunds failed since: "refunded in full" would not be
			// true.
			return nil, fmt.Errorf("no refund of the booking is live: %w", errNotDue)
		}
		return BookingRefunded(c)
	}
	return nil, fmt.Errorf("mail: unknown kind %q: %w", due.Kind, ErrPermanent)
}

// Unsent lists the context's tenant's mails still to send, written down
// more than age ago, at most limit of them.
func (p *Postman) Unsent(ctx context.Context, age time.Duration, limit int) ([]ticketing.MailDue, error) {
	return p.outbox.UnsentMail(ctx, age, limit)
}
