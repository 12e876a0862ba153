package postgres

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertMailOutbox          = query("InsertMailOutbox")
	qClaimMail                 = query("ClaimMail")
	qSelectMailState           = query("SelectMailState")
	qMarkMailSent              = query("MarkMailSent")
	qMarkMailFailed            = query("MarkMailFailed")
	qReleaseMail               = query("ReleaseMail")
	qSelectUnsentMail          = query("SelectUnsentMail")
	qSelectBookingConfirmation = query("SelectBookingConfirmation")
	qSelectConfirmationLines   = query("SelectConfirmationLines")
)

// MailGiveUpAfter is how long an unsent mail is retried: past it the sweep
// no longer enqueues it (a confirmation a week late helps no one), and the
// row stays unsent for a person to look at.
const MailGiveUpAfter = 7 * 24 * time.Hour

// maxMailError bounds the last error kept with a mail.
const maxMailError = 1000

// MailStore is the mail outbox (mail.Outbox): the mails due to buyers,
// written in the transaction that makes them due.
type MailStore struct{ db *DB }

// NewMailStore returns a MailStore on db.
func NewMailStore(db *DB) *MailStore { return &MailStore{db: db} }

// addMail writes down a mail due, in the caller's transaction.
func addMail(ctx context.Context, tx pgx.Tx, kind ticketing.MailKind, bookingID string) error {
	_, err := tx.Exec(ctx, qInsertMailOutbox, string(kind), bookingID)
	return err
}

func scanMailDue(row pgx.Row) (*ticketing.MailDue, error) {
	var d ticketing.MailDue
	var kind string
	if err := row.Scan(&d.ID, &kind, &d.BookingID, &d.Attempts); err != nil {
		return nil, err
	}
	d.Kind = ticketing.MailKind(kind)
	return &d, nil
}

var errMailBusy = ticketing.Errorf(ticketing.KindConflict, CodeMailBusy, "another worker is sending this mail")

// CodeMailBusy is the code of ClaimMail's error for a mail another worker
// is sending.
const CodeMailBusy = "MAIL_BUSY"

// ClaimMail implements mail.Outbox: it returns nil when the mail was sent
// or given up before, and a Conflict (CodeMailBusy) while another worker
// holds it.
func (s *MailStore) ClaimMail(ctx context.Context, kind ticketing.MailKind, bookingID string, claimFor time.Duration) (*ticketing.MailDue, error) {
	if !ticketing.ValidID(bookingID) {
		return nil, ticketing.NotFound("mail")
	}
	var due *ticketing.MailDue
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		d, err := scanMailDue(tx.QueryRow(ctx, qClaimMail, string(kind), bookingID, claimFor.Seconds()))
		if err == nil {
			due = d
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var done bool
		var held *bool
		if err := tx.QueryRow(ctx, qSelectMailState, string(kind), bookingID).Scan(&done, &held); err != nil {
			return err
		}
		if !done && held != nil && *held {
			return errMailBusy
		}
		return nil
	})
	return due, translate(err, "mail")
}

// MarkMailSent implements mail.Outbox.
func (s *MailStore) MarkMailSent(ctx context.Context, id, via string) error {
	return s.exec(ctx, qMarkMailSent, id, via)
}

// MarkMailFailed implements mail.Outbox.
func (s *MailStore) MarkMailFailed(ctx context.Context, id, why string) error {
	return s.exec(ctx, qMarkMailFailed, id, clip(why, maxMailError))
}

// ReleaseMail implements mail.Outbox.
func (s *MailStore) ReleaseMail(ctx context.Context, id, why string) error {
	return s.exec(ctx, qReleaseMail, id, clip(why, maxMailError))
}

func (s *MailStore) exec(ctx context.Context, q string, args ...any) error {
	return translate(s.db.InTenant(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	}), "mail")
}

// UnsentMail implements mail.Outbox, for mails written down in the last
// MailGiveUpAfter.
func (s *MailStore) UnsentMail(ctx context.Context, age time.Duration, limit int) ([]ticketing.MailDue, error) {
	var out []ticketing.MailDue
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, qSelectUnsentMail, age.Seconds(), MailGiveUpAfter.Seconds(), limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.MailDue, error) {
			d, err := scanMailDue(r)
			if err != nil {
				return ticketing.MailDue{}, err
			}
			return *d, nil
		})
		return err
	})
	return out, translate(err, "mail")
}

// BookingConfirmation implements mail.Outbox: the booking with its event,
// venue, buyer, organizer, tickets and what of it is refunded, read in one
// transaction.
func (s *MailStore) BookingConfirmation(ctx context.Context, bookingID string) (*ticketing.BookingConfirmation, error) {
	var c ticketing.BookingConfirmation
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, qSelectBookingConfirmation, bookingID).Scan(&c.BookingID, &c.Status, &c.BuyerName, &c.BuyerEmail,
			&c.OrganizerName, &c.EventTitle, &c.StartsAt, &c.EndsAt, &c.VenueName, &c.VenueAddress, &c.VenueCity, &c.Timezone,
			&c.Total, &c.Currency, &c.Refunded)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, qSelectConfirmationLines, bookingID)
		if err != nil {
			return err
		}
		c.Lines, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ticketing.ConfirmationLine, error) {
			var l ticketing.ConfirmationLine
			err := r.Scan(&l.TicketType, &l.Quantity, &l.UnitPrice, &l.Seats)
			return l, err
		})
		return err
	})
	if err != nil {
		return nil, translate(err, "booking")
	}
	return &c, nil
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
