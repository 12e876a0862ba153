package mail_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// outbox is an Outbox of one mail, recording what the Postman did to it.
type outbox struct {
	due          *ticketing.MailDue
	confirmation *ticketing.BookingConfirmation
	sent, failed string // how it was recorded sent, or why it failed
	released     string
}

func (o *outbox) ClaimMail(context.Context, ticketing.MailKind, string, time.Duration) (*ticketing.MailDue, error) {
	return o.due, nil
}
func (o *outbox) BookingConfirmation(context.Context, string) (*ticketing.BookingConfirmation, error) {
	return o.confirmation, nil
}
func (o *outbox) MarkMailSent(_ context.Context, _, via string) error { o.sent = via; return nil }
func (o *outbox) MarkMailFailed(_ context.Context, _, why string) error {
	o.failed = why
	return nil
}
func (o *outbox) ReleaseMail(_ context.Context, _, why string) error { o.released = why; return nil }
func (o *outbox) UnsentMail(context.Context, time.Duration, int) ([]ticketing.MailDue, error) {
	return nil, nil
}

// recorder is a Sender that keeps what it was given, or fails with err.
type recorder struct {
	sent []*mail.Message
	err  error
}

func (r *recorder) Send(_ context.Context, m *mail.Message) error {
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, m)
	return nil
}
func (r *recorder) Via() string { return "test" }

func deliver(t *testing.T, o *outbox, s *recorder) error {
	t.Helper()
	return deliverKind(t, ticketing.MailBookingConfirmed, o, s)
}

func deliverKind(t *testing.T, kind ticketing.MailKind, o *outbox, s *recorder) error {
	t.Helper()
	p := mail.NewPostman(o, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return p.Deliver(context.Background(), kind, confirmation().BookingID)
}

func TestPostmanRecordsWhatHappened(t *testing.T) {
	due := func(kind ticketing.MailKind) *ticketing.MailDue {
		return &ticketing.MailDue{ID: "m1", Kind: kind, BookingID: confirmation().BookingID}
	}
	t.Run("sent", func(t *testing.T) {
		o, s := &outbox{due: due(ticketing.MailBookingConfirmed), confirmation: confirmation()}, &recorder{}
		if err := deliver(t, o, s); err != nil || len(s.sent) != 1 || o.sent != "test" {
			t.Fatalf("%v; sent %d, recorded %q", err, len(s.sent), o.sent)
		}
	})
	t.Run("sentBefore", func(t *testing.T) {
		o, s := &outbox{}, &recorder{}
		if err := deliver(t, o, s); err != nil || len(s.sent) != 0 {
			t.Fatalf("%v; sent %d", err, len(s.sent))
		}
	})
	t.Run("underReviewBeforeItWentOut", func(t *testing.T) {
		c := confirmation()
		c.Status = ticketing.BookingReview
		o, s := &outbox{due: due(ticketing.MailBookingConfirmed), confirmation: c}, &recorder{}
		if err := deliver(t, o, s); err != nil || len(s.sent) != 0 || !strings.Contains(o.failed, "review") {
			t.Fatalf("%v; sent %d, failed %q", err, len(s.sent), o.failed)
		}
	})
	t.Run("temporaryFailure", func(t *testing.T) {
		o, s := &outbox{due: due(ticketing.MailBookingConfirmed), confirmation: confirmation()}, &recorder{err: errors.New("451 later")}
		if err := deliver(t, o, s); err == nil || errors.Is(err, mail.ErrPermanent) || o.released == "" || o.failed != "" || o.sent != "" {
			t.Fatalf("%v; released %q, failed %q, sent %q", err, o.released, o.failed, o.sent)
		}
	})
	t.Run("permanentFailure", func(t *testing.T) {
		refused := errors.Join(errors.New("550 no such user"), mail.ErrPermanent)
		o, s := &outbox{due: due(ticketing.MailBookingConfirmed), confirmation: confirmation()}, &recorder{err: refused}
		if err := deliver(t, o, s); !errors.Is(err, mail.ErrPermanent) || o.failed == "" || o.released != "" {
			t.Fatalf("%v; failed %q, released %q", err, o.failed, o.released)
		}
	})
	t.Run("unknownKind", func(t *testing.T) {
		o, s := &outbox{due: due("birthday"), confirmation: confirmation()}, &recorder{}
		if err := deliver(t, o, s); !errors.Is(err, mail.ErrPermanent) || len(s.sent) != 0 || o.failed == "" {
			t.Fatalf("%v; sent %d, failed %q", err, len(s.sent), o.failed)
		}
	})
}

// TestPostmanSendsVoidedMailsOnlyOfRefundedBookings: the event-cancelled
// and booking-refunded mails say the tickets are void, so they go out only
// once the booking is refunded; otherwise they are recorded failed as not
// due, and never sent.
func TestPostmanSendsVoidedMailsOnlyOfRefundedBookings(t *testing.T) {
	for _, kind := range []ticketing.MailKind{ticketing.MailEventCancelled, ticketing.MailBookingRefunded} {
		due := &ticketing.MailDue{ID: "m1", Kind: kind, BookingID: confirmation().BookingID}
		t.Run(string(kind)+"/sentOfRefunded", func(t *testing.T) {
			o, s := &outbox{due: due, confirmation: refunded(750000)}, &recorder{}
			if err := deliverKind(t, kind, o, s); err != nil || len(s.sent) != 1 || o.sent != "test" || o.failed != "" {
				t.Fatalf("%v; sent %d, recorded %q, failed %q", err, len(s.sent), o.sent, o.failed)
			}
			if m := s.sent[0]; !strings.Contains(m.Text, "NGN 7,500.00") || m.To != "ada@example.com" || len(m.Attachments) != 0 {
				t.Errorf("sent to %q with %d attachments:\n%s", m.To, len(m.Attachments), m.Text)
			}
		})
		t.Run(string(kind)+"/notDueOfConfirmed", func(t *testing.T) {
			o, s := &outbox{due: due, confirmation: confirmation()}, &recorder{}
			err := deliverKind(t, kind, o, s)
			if err != nil || len(s.sent) != 0 || o.sent != "" || !strings.Contains(o.failed, "not due") || !strings.Contains(o.failed, "confirmed") {
				t.Fatalf("%v; sent %d, recorded %q, failed %q", err, len(s.sent), o.sent, o.failed)
			}
		})
	}
	t.Run("eventCancelledOfFreeBookingSent", func(t *testing.T) {
		c := refunded(0)
		c.Total = 0
		o, s := &outbox{due: &ticketing.MailDue{ID: "m1", Kind: ticketing.MailEventCancelled, BookingID: c.BookingID}, confirmation: c}, &recorder{}
		if err := deliverKind(t, ticketing.MailEventCancelled, o, s); err != nil || len(s.sent) != 1 ||
			!strings.Contains(s.sent[0].Text, "nothing to refund") {
			t.Fatalf("%v; sent %d, failed %q", err, len(s.sent), o.failed)
		}
	})
	t.Run("bookingRefundedWhoseRefundsFailedNotDue", func(t *testing.T) {
		o, s := &outbox{due: &ticketing.MailDue{ID: "m1", Kind: ticketing.MailBookingRefunded, BookingID: confirmation().BookingID},
			confirmation: refunded(0)}, &recorder{}
		if err := deliverKind(t, ticketing.MailBookingRefunded, o, s); err != nil || len(s.sent) != 0 || !strings.Contains(o.failed, "not due") {
			t.Fatalf("%v; sent %d, failed %q", err, len(s.sent), o.failed)
		}
	})
}
