package mail_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestMailStoreRefundedCountsRefundsThatDidNotFail reads a paid booking's
// refunds through postgres.MailStore, as the tenant (row-level security
// binding), and sends the booking-refunded mail from what it read.
func TestMailStoreRefundedCountsRefundsThatDidNotFail(t *testing.T) {
	db := pgtest.New(t)
	ctx := t.Context()
	tenant, admin, err := postgres.NewTenantService(db.App, auth.Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}).CreateTenant(ctx,
		ticketing.NewTenant{Slug: "acme", Name: "Acme Events", Currency: "NGN",
			Admin: ticketing.NewUser{Email: "admin@acme.test", Password: "password-1", Name: "Ada Obi"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx = ticketing.WithActor(ticketing.WithTenant(ctx, tenant), ticketing.Actor{UserID: admin.ID, Role: string(admin.Role)})
	capacity := 10
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Main Hall", City: "Lagos",
		Timezone: "Africa/Lagos", Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	price := int64(1000000)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Jazz <Night>", StartsAt: start,
		EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission,
		Price: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	b := &ticketing.Booking{ID: ticketing.NewID(), EventID: e.ID, UserID: admin.ID, Status: ticketing.BookingPending, Total: price,
		Currency: "NGN", ExpiresAt: time.Now().Add(10 * time.Minute),
		Items: []ticketing.BookingItem{{TicketTypeID: tt.ID, Quantity: 1, UnitPrice: price}}}
	if err := postgres.NewBookingStore(db.App).InsertBooking(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	payments := postgres.NewPaymentStore(db.App)
	opened, err := payments.OpenPayment(ctx, b.ID, "", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ref := opened.Payment.Reference
	if st, err := payments.Settle(ctx, ref, ticketing.Charge{Reference: ref, Status: "success", PaystackID: 42, Amount: price, Currency: "NGN"},
		ticketing.SettleNormal, ""); err != nil || !st.Confirmed {
		t.Fatalf("settle: %+v %v", st, err)
	}

	store := postgres.NewMailStore(db.App)
	c, err := store.BookingConfirmation(ctx, b.ID)
	if err != nil || c.Refunded != 0 || c.Status != ticketing.BookingConfirmed || c.Total != price {
		t.Fatalf("before any refund: %+v %v", c, err)
	}

	// Refunds in every state; the failed one is not counted. Written as
	// the administrative role, as the refund work would leave them.
	for _, r := range []struct {
		amount int64
		status ticketing.RefundStatus
	}{{300000, ticketing.RefundProcessed}, {200000, ticketing.RefundQueued}, {100000, ticketing.RefundPending},
		{50000, ticketing.RefundProcessing}, {350000, ticketing.RefundFailed}} {
		if _, err := db.Admin.Exec(ctx, `INSERT INTO refunds (tenant_id, payment_id, booking_id, amount, currency, reason, status, kind)
			SELECT tenant_id, id, booking_id, $2, currency, 'test', $3, 'admin' FROM payments WHERE reference = $1`,
			ref, r.amount, string(r.status)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Admin.Exec(ctx, `UPDATE bookings SET status = 'refunded' WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Admin.Exec(ctx, `INSERT INTO mail_outbox (tenant_id, kind, booking_id) VALUES ($1, $2, $3)`,
		tenant.ID, string(ticketing.MailBookingRefunded), b.ID); err != nil {
		t.Fatal(err)
	}
	c, err = store.BookingConfirmation(ctx, b.ID)
	if err != nil || c.Refunded != 650000 || c.Status != ticketing.BookingRefunded {
		t.Fatalf("refunded %d (want 650000), status %s: %v", c.Refunded, c.Status, err)
	}

	s := &recorder{}
	postman := mail.NewPostman(store, logRecorder{s}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := postman.Deliver(ctx, ticketing.MailBookingRefunded, b.ID); err != nil || len(s.sent) != 1 {
		t.Fatalf("%v; sent %d", err, len(s.sent))
	}
	m := s.sent[0]
	if m.To != "admin@acme.test" || m.Subject != "Refund: Jazz <Night>" || !strings.Contains(m.Text, "refunded in full: NGN 6,500.00") ||
		!strings.Contains(m.HTML, "Jazz &lt;Night&gt;") {
		t.Errorf("mail to %q about %q:\n%s\n%s", m.To, m.Subject, m.Text, m.HTML)
	}
	// The settlement wrote down the confirmation, no longer true.
	if err := postman.Deliver(ctx, ticketing.MailBookingConfirmed, b.ID); err != nil || len(s.sent) != 1 {
		t.Fatalf("%v; sent %d", err, len(s.sent))
	}
	unsent, err := store.UnsentMail(ctx, 0, 10)
	if err != nil || len(unsent) != 0 {
		t.Errorf("unsent after sending: %+v %v", unsent, err)
	}
}

// logRecorder is a recorder that says it logged what it was given: the
// outbox records only SMTP or the log as the way a mail went.
type logRecorder struct{ *recorder }

func (logRecorder) Via() string { return "log" }
