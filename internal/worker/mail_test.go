package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/booking"
	"github.com/ticketd-io/ticketd/internal/checkin"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/mail/mailsink"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/ticketpdf"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// mailWorld is a tenant with a seated and a general-admission ticket type
// on sale, a real asynq worker, and a real SMTP server (the dev mail sink)
// that the worker sends to.
type mailWorld struct {
	t         *testing.T
	db        *pgtest.DB
	tenant    *ticketing.Tenant
	admin     context.Context
	bookings  *booking.Service
	payments  *postgres.PaymentStore
	postman   *mail.Postman
	client    *worker.Client
	inspector *asynq.Inspector
	rdb       goredis.UniversalClient
	sink      *mailsink.Sink
	queue     string
	event     string
	ga, hall  *ticketing.TicketType
	seats     map[string]string // label → id
	// reject, when set, is how the SMTP server answers a recipient.
	reject atomic.Pointer[func(to string) error]
	users  *postgres.UserService
}

func newMailWorld(t *testing.T) *mailWorld {
	t.Helper()
	w := &mailWorld{t: t, db: pgtest.New(t), seats: map[string]string{}}
	rdb := redistest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hasher := auth.Hasher{Memory: 1024, Iterations: 1, Parallelism: 1}
	tenants := postgres.NewTenantService(w.db.App, hasher)
	store := postgres.NewBookingStore(w.db.App)
	w.bookings = booking.New(store, inventory.New(rdb.UniversalClient, rdb.Prefix, store), noScheduler{}, logger, 0)
	w.payments = postgres.NewPaymentStore(w.db.App)
	w.users = postgres.NewUserService(w.db.App, hasher)

	tenant, admin, err := tenants.CreateTenant(t.Context(), ticketing.NewTenant{Slug: "acme", Name: "Acme Events", Currency: "NGN",
		Admin: ticketing.NewUser{Email: "admin@acme.test", Password: "password-1", Name: "A"}})
	if err != nil {
		t.Fatal(err)
	}
	w.tenant = tenant
	w.admin = ticketing.WithActor(ticketing.WithTenant(t.Context(), tenant), ticketing.Actor{UserID: admin.ID, Role: string(admin.Role)})
	venue, err := postgres.NewVenueService(w.db.App).CreateVenue(w.admin, ticketing.NewVenue{Name: "Main Hall", Address: "1 Marina",
		City: "Lagos", Timezone: "Africa/Lagos",
		Layout: &ticketing.LayoutInput{Sections: []ticketing.SectionInput{
			{Name: "Orchestra", Rows: []ticketing.RowInput{{Label: "A", Count: 4}}},
			{Name: "Balcony", Rows: []ticketing.RowInput{{Label: "B", Count: 10}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range venue.Layout.Sections[0].Rows {
		for _, seat := range r.Seats {
			w.seats[seat.Label] = seat.ID
		}
	}
	events := postgres.NewEventService(w.db.App)
	open := time.Now().Add(-time.Hour)
	start := time.Date(2031, 3, 14, 18, 0, 0, 0, time.UTC) // 19:00 in Lagos
	e, err := events.CreateEvent(w.admin, ticketing.NewEvent{VenueID: venue.ID, Title: "Jazz <Night>", StartsAt: start,
		EndsAt: start.Add(3 * time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	w.event = e.ID
	gaPrice, hallPrice, capacity := int64(500000), int64(1500050), 8
	if w.ga, err = events.CreateTicketType(w.admin, e.ID, ticketing.NewTicketType{Name: "General", Kind: ticketing.GeneralAdmission,
		Price: &gaPrice, Capacity: &capacity}); err != nil {
		t.Fatal(err)
	}
	if w.hall, err = events.CreateTicketType(w.admin, e.ID, ticketing.NewTicketType{Name: "Orchestra", Kind: ticketing.Seated,
		Price: &hallPrice, Seats: ticketing.SeatSelection{Sections: []string{"Orchestra"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(w.admin, e.ID, nil); err != nil {
		t.Fatal(err)
	}

	w.sink = mailsink.New(mailsink.Config{Reject: func(to string) error {
		if f := w.reject.Load(); f != nil {
			return (*f)(to)
		}
		return nil
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- w.sink.Serve(ln) }()
	t.Cleanup(func() {
		_ = w.sink.Close()
		<-served
	})
	sender, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mail.TLSNone,
		Timeout: 10 * time.Second}, "ticketd <no-reply@tickets.example.com>")
	if err != nil {
		t.Fatal(err)
	}
	w.postman = mail.NewPostman(postgres.NewMailStore(w.db.App), sender, logger)
	signer, err := checkin.NewSigner(strings.Repeat("s", 32))
	if err != nil {
		t.Fatal(err)
	}
	tickets := postgres.NewTicketService(w.db.App, func(tenantID string, version int) []byte { return signer.PublicKey(tenantID, version) })
	w.postman.Attach(ticketing.MailBookingConfirmed, func(ctx context.Context, bookingID string) ([]mail.Attachment, error) {
		pdf, err := ticketpdf.Booking(ctx, tickets, signer, bookingID, time.Now())
		return []mail.Attachment{{Filename: "tickets.pdf", ContentType: "application/pdf", Data: pdf}}, err
	})

	w.queue = "test-" + rdb.Prefix[len("test:"):len(rdb.Prefix)-1]
	redistest.CleanupAsynqQueue(t, rdb, w.queue)
	redistest.CleanupAsynqQueue(t, rdb, worker.MailQueue(w.queue))
	w.client = worker.NewClient(rdb.UniversalClient, w.queue)
	w.rdb, w.inspector = rdb.UniversalClient, asynq.NewInspectorFromRedisClient(rdb.UniversalClient)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(runCtx, rdb.UniversalClient, worker.Config{Queue: w.queue, Concurrency: 2, MailConcurrency: 4, SweepInterval: time.Second},
			&worker.Handlers{Bookings: w.bookings, Tenants: tenants, Client: w.client, Logger: logger, Mail: w.postman}, w.client)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return w
}

// buyer signs up a buyer and returns the context they act in.
func (w *mailWorld) buyer(email, name string) context.Context {
	w.t.Helper()
	u, err := w.users.CreateUser(w.admin, ticketing.NewUser{Email: email, Password: "password-1", Name: name})
	if err != nil {
		w.t.Fatal(err)
	}
	return ticketing.WithActor(ticketing.WithTenant(w.t.Context(), w.tenant), ticketing.Actor{UserID: u.ID, Role: string(u.Role)})
}

// confirmed books two general-admission tickets and the given seats, and
// settles a successful charge of the total, as the payment service does
// after Paystack's verify: the booking is confirmed and its mail written
// down. Nothing is enqueued.
func (w *mailWorld) confirmed(buyer context.Context, seats ...string) string {
	w.t.Helper()
	var ids []string
	for _, s := range seats {
		ids = append(ids, w.seats[s])
	}
	b, err := w.bookings.CreateBooking(buyer, ticketing.NewBooking{EventID: w.event,
		Items: []ticketing.ItemRequest{{TicketTypeID: w.ga.ID, Quantity: 2}}, Seats: ids})
	if err != nil {
		w.t.Fatal(err)
	}
	opened, err := w.payments.OpenPayment(buyer, b.ID, "", "", time.Minute)
	if err != nil {
		w.t.Fatal(err)
	}
	p := opened.Payment
	st, err := w.payments.Settle(buyer, p.Reference, ticketing.Charge{Reference: p.Reference, Status: "success",
		Amount: p.Amount, Currency: p.Currency}, ticketing.SettleNormal, "")
	if err != nil || !st.Confirmed {
		w.t.Fatalf("settling %s: %+v, %v", p.Reference, st, err)
	}
	return b.ID
}

// outbox returns the state of a booking's confirmation mail.
func (w *mailWorld) outbox(bookingID string) (sent, failed bool, via string, attempts int) {
	w.t.Helper()
	err := w.db.Admin.QueryRow(context.Background(), `SELECT sent_at IS NOT NULL, failed_at IS NOT NULL, sent_via, attempts
		FROM mail_outbox WHERE booking_id = $1 AND kind = 'booking_confirmed'`, bookingID).Scan(&sent, &failed, &via, &attempts)
	if err != nil {
		w.t.Fatal(err)
	}
	return sent, failed, via, attempts
}

// mailsOf returns the mails the SMTP server received about a booking.
func (w *mailWorld) mailsOf(bookingID string) []mailsink.Mail {
	var out []mailsink.Mail
	for _, m := range w.sink.Mails() {
		if strings.Contains(m.Text, bookingID) {
			out = append(out, m)
		}
	}
	return out
}

// settled waits until no task of the booking's mail is waiting, running or
// retrying: asynq drops a task when it succeeds.
func (w *mailWorld) settled(bookingID string) {
	w.t.Helper()
	waitFor(w.t, func() (bool, string) {
		info, err := w.inspector.GetTaskInfo(worker.MailQueue(w.queue), worker.TypeMailBookingConfirmed+":"+bookingID)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return true, ""
		}
		if err != nil {
			w.t.Fatal(err)
		}
		return info.State == asynq.TaskStateArchived || info.State == asynq.TaskStateCompleted,
			fmt.Sprintf("the mail task of %s is %s", bookingID, info.State)
	})
}

// TestConfirmedBookingIsMailedOnce: however many times and from however
// many processes the mail of a confirmation is enqueued, at once or after
// it went out, the buyer gets one mail, rendered from the database.
func TestConfirmedBookingIsMailedOnce(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t)
	ada := w.buyer("ada@example.com", "Ada Obi")
	id := w.confirmed(ada, "A-2", "A-1")

	other := worker.NewClient(w.rdb, w.queue) // as another API process would
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := w.client
			if i%2 == 1 {
				c = other
			}
			if err := c.EnqueueMail(context.Background(), w.tenant.ID, ticketing.MailBookingConfirmed, id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() (bool, string) {
		sent, _, _, _ := w.outbox(id)
		return sent, "the confirmation is not recorded sent"
	})
	w.settled(id)
	if err := w.client.EnqueueMail(context.Background(), w.tenant.ID, ticketing.MailBookingConfirmed, id); err != nil {
		t.Fatal(err)
	}
	w.settled(id)

	got := w.mailsOf(id)
	if len(got) != 1 {
		t.Fatalf("%d mails about booking %s, want 1", len(got), id)
	}
	if _, _, via, attempts := w.outbox(id); via != "smtp" || attempts != 1 {
		t.Errorf("outbox: via %q after %d attempts, want smtp after 1", via, attempts)
	}
	m := got[0]
	if len(m.To) != 1 || m.To[0] != "ada@example.com" || m.Subject != "Booking confirmed: Jazz <Night>" {
		t.Errorf("mail to %v about %q", m.To, m.Subject)
	}
	for _, want := range []string{
		"Hello Ada Obi,", "Your booking with Acme Events is confirmed.", "Jazz <Night>",
		"Friday 14 March 2031, 19:00 to 22:00 WAT", "Main Hall, 1 Marina, Lagos",
		"2 x General: NGN 10,000.00", "2 x Orchestra (Orchestra A-1, Orchestra A-2): NGN 30,001.00",
		"Total: NGN 40,001.00", "Booking reference: " + id,
	} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the text lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "Jazz &lt;Night&gt;") || strings.Contains(m.HTML, "<Night>") {
		t.Errorf("the HTML does not escape the title:\n%s", m.HTML)
	}
	// The tickets come along: a PDF of one page per ticket (2 GA, 2 seats).
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "tickets.pdf" || m.Attachments[0].ContentType != "application/pdf" ||
		!bytes.HasPrefix(m.Attachments[0].Data, []byte("%PDF-")) || bytes.Count(m.Attachments[0].Data, []byte("/Type /Page\n")) != 4 {
		t.Errorf("attachments: %d", len(m.Attachments))
	}
}

// TestLostEnqueueIsMailedByTheSweep: a confirmation whose task was never
// enqueued (Redis down after the commit) is found unsent by the sweep.
func TestLostEnqueueIsMailedByTheSweep(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t)
	id := w.confirmed(w.buyer("bola@example.com", "Bola"))
	waitFor(t, func() (bool, string) {
		sent, _, _, _ := w.outbox(id)
		return sent, "the sweep has not sent the confirmation"
	})
	w.settled(id)
	if n := len(w.mailsOf(id)); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
}

// TestMailRetriesTemporaryRefusalsAndGivesUpOnARefusedRecipient: a 4xx is
// tried again until the server takes the mail; a 5xx for the recipient is
// recorded as failed and never tried again.
func TestMailRetriesTemporaryRefusalsAndGivesUpOnARefusedRecipient(t *testing.T) {
	t.Parallel()
	w := newMailWorld(t)
	var refusals atomic.Int32
	reject := func(to string) error {
		switch {
		case to == "gone@example.com":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case refusals.Add(1) <= 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	}
	w.reject.Store(&reject)

	later := w.confirmed(w.buyer("later@example.com", "Later"))
	if err := w.client.EnqueueMail(context.Background(), w.tenant.ID, ticketing.MailBookingConfirmed, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() (bool, string) {
		sent, _, _, attempts := w.outbox(later)
		return sent, fmt.Sprintf("not sent after %d attempts", attempts)
	})
	w.settled(later)
	if _, _, _, attempts := w.outbox(later); attempts != 3 || len(w.mailsOf(later)) != 1 {
		t.Errorf("%d attempts, %d mails; want 3 attempts (two refused) and one mail", attempts, len(w.mailsOf(later)))
	}

	gone := w.confirmed(w.buyer("gone@example.com", "Gone"))
	if err := w.client.EnqueueMail(context.Background(), w.tenant.ID, ticketing.MailBookingConfirmed, gone); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() (bool, string) {
		_, failed, _, attempts := w.outbox(gone)
		return failed, fmt.Sprintf("not given up after %d attempts", attempts)
	})
	w.settled(gone)
	var lastError string
	if err := w.db.Admin.QueryRow(context.Background(), "SELECT last_error FROM mail_outbox WHERE booking_id = $1", gone).Scan(&lastError); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastError, "550") || strings.Contains(lastError, "gone@example.com") {
		t.Errorf("last error %q: want the refusal, without the address", lastError)
	}
	unsent, err := w.postman.Unsent(ticketing.WithTenant(context.Background(), w.tenant), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(unsent) != 0 {
		t.Errorf("the sweep would send again: %+v", unsent)
	}
	if _, _, _, attempts := w.outbox(gone); attempts != 1 || len(w.mailsOf(gone)) != 0 {
		t.Errorf("%d attempts and %d mails for a refused recipient, want 1 and 0", attempts, len(w.mailsOf(gone)))
	}
}
