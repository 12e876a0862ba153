package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestGroupCommitAnswersEachBooking writes many bookings at once, so that
// the group commit batches them, with a few that must fail: one for an
// event that stopped selling and two for the same seat. Each booking gets
// its own answer, and the good ones are not failed for the bad ones' sake.
func TestGroupCommitAnswersEachBooking(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos",
		Layout: &ticketing.LayoutInput{Sections: []ticketing.SectionInput{{Name: "S", Rows: []ticketing.RowInput{{Label: "A", Count: 50}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	price, capacity := int64(100), 40
	mkEvent := func() (string, string, string) {
		e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
		if err != nil {
			t.Fatal(err)
		}
		ga, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
		if err != nil {
			t.Fatal(err)
		}
		seated, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "Seats", Kind: ticketing.Seated, Price: &price, Seats: ticketing.SeatSelection{Seats: []string{"A-1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
			t.Fatal(err)
		}
		return e.ID, ga.ID, seated.ID
	}
	live, ga, seated := mkEvent()
	stopped, stoppedGA, _ := mkEvent()
	if _, err := events.CancelEvent(ctx, stopped, nil); err != nil {
		t.Fatal(err)
	}
	seat := venue.Layout.Sections[0].Rows[0].Seats[0].ID

	store := postgres.NewBookingStore(db.App)
	var commitsMu sync.Mutex
	committed := 0
	store.ObserveCommits(func(n int, took time.Duration) {
		commitsMu.Lock()
		defer commitsMu.Unlock()
		if n < 1 || took <= 0 {
			t.Errorf("a group commit observed as %d bookings in %v", n, took)
		}
		committed += n
	})
	booking := func(eventID, ticketTypeID string, seats ...string) *ticketing.Booking {
		it := ticketing.BookingItem{TicketTypeID: ticketTypeID, Quantity: 1, UnitPrice: price, SeatIDs: seats}
		return &ticketing.Booking{ID: ticketing.NewID(), EventID: eventID, Status: ticketing.BookingPending, Items: []ticketing.BookingItem{it},
			Total: price, Currency: "NGN", ExpiresAt: time.Now().Add(10 * time.Minute)}
	}
	var bookings []*ticketing.Booking
	for range 30 {
		bookings = append(bookings, booking(live, ga))
	}
	closed := booking(stopped, stoppedGA)
	seatA, seatB := booking(live, seated, seat), booking(live, seated, seat)
	bookings = append(bookings, closed, seatA, seatB)

	// insertAll writes bs at once, so that the group commit batches them.
	insertAll := func(bs []*ticketing.Booking) []error {
		errs := make([]error, len(bs))
		var wg sync.WaitGroup
		startLine := make(chan struct{})
		for i, b := range bs {
			wg.Go(func() {
				<-startLine
				errs[i] = store.InsertBooking(ctx, b, "")
			})
		}
		close(startLine)
		wg.Wait()
		return errs
	}
	errs := insertAll(bookings)

	for i := range 30 {
		if errs[i] != nil {
			t.Fatalf("booking %d of a live event: %v", i, errs[i])
		}
		if bookings[i].CreatedAt.IsZero() {
			t.Fatalf("booking %d was written without its timestamps", i)
		}
	}
	if e := ticketing.AsError(errs[30]); e == nil || e.Code != ticketing.CodeSalesClosed {
		t.Fatalf("booking of a cancelled event: %v, want SALES_CLOSED", errs[30])
	}
	seatErrs := []error{errs[31], errs[32]}
	won := 0
	for _, err := range seatErrs {
		if err == nil {
			won++
		} else if e := ticketing.AsError(err); e == nil || e.Code != ticketing.CodeSeatUnavailable {
			t.Fatalf("a booking of a taken seat: %v, want SEAT_UNAVAILABLE", err)
		}
	}
	var written, items, seats int
	if err := db.Admin.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM booking_items), (SELECT count(*) FROM booking_seats)").Scan(&written, &items, &seats); err != nil {
		t.Fatal(err)
	}
	if won != 1 || written != 31 || items != 31 || seats != 1 {
		t.Fatalf("%d seat bookings won; %d bookings, %d items, %d seats written; want 1, 31, 31, 1", won, written, items, seats)
	}

	// Without a seat taken twice the batch stands, and only the booking of
	// the cancelled event is left out of it, with its item.
	more := []*ticketing.Booking{booking(stopped, stoppedGA)}
	for range 20 {
		more = append(more, booking(live, ga))
	}
	errs = insertAll(more)
	if e := ticketing.AsError(errs[0]); e == nil || e.Code != ticketing.CodeSalesClosed {
		t.Fatalf("booking of a cancelled event: %v, want SALES_CLOSED", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Fatalf("booking %d of a live event: %v", i, err)
		}
	}
	if err := db.Admin.QueryRow(t.Context(), "SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM booking_items)").Scan(&written, &items); err != nil {
		t.Fatal(err)
	}
	if written != 51 || items != 51 {
		t.Fatalf("%d bookings, %d items written; want 51, 51", written, items)
	}

	// The writer reports a commit after answering its buyers.
	want := len(bookings) + len(more)
	observed := func() int {
		commitsMu.Lock()
		defer commitsMu.Unlock()
		return committed
	}
	for deadline := time.Now().Add(30 * time.Second); observed() < want && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := observed(); n != want {
		t.Fatalf("group commits observed %d bookings, want each of the %d once", n, want)
	}
}

// TestBookingReferencesStay checks what replaced the foreign keys from a
// booking to its buyer and event, and from its items and seats to it: the
// application may neither delete users, events and bookings nor change their
// id or tenant_id (migrations/00006_booking_write_path.sql).
func TestBookingReferencesStay(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	other := mustTenant(t, db, "other")
	ctx := asAdmin(t, db, tenant)
	admin, _ := ticketing.ActorFromContext(ctx)
	sale := newGASale(t, db, ctx, 10)
	b := sale.booking()
	store := postgres.NewBookingStore(db.App)
	if err := store.InsertBooking(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	// A buyer who is not a user of the tenant books nothing.
	var strangerID string
	if err := db.Admin.QueryRow(t.Context(), "SELECT id::text FROM users WHERE email = 'admin@other.test'").Scan(&strangerID); err != nil {
		t.Fatal(err)
	}
	stranger := ticketing.WithActor(ticketing.WithTenant(context.Background(), tenant), ticketing.Actor{UserID: strangerID, Role: string(ticketing.RoleUser)})
	b2 := *b
	b2.ID = ticketing.NewID()
	if err := store.InsertBooking(stranger, &b2, ""); err == nil {
		t.Fatal("a booking by another tenant's user was written")
	}
	var n int
	if err := db.Admin.QueryRow(t.Context(), "SELECT count(*) FROM bookings WHERE id = $1", b2.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d bookings by another tenant's user (%v)", n, err)
	}

	for _, c := range []struct{ table, id string }{{"users", admin.UserID}, {"events", sale.eventID}, {"bookings", b.ID}} {
		for stmt, want := range map[string]string{
			"UPDATE " + c.table + " SET id = gen_random_uuid() WHERE id = $1":         "23000",
			"UPDATE " + c.table + " SET tenant_id = '" + other.ID + "' WHERE id = $1": "23000",
			"DELETE FROM " + c.table + " WHERE id = $1":                               "42501", // no DELETE grant
		} {
			err := db.App.WithTenant(t.Context(), tenant.ID, func(tx pgx.Tx) error {
				_, err := tx.Exec(t.Context(), stmt, c.id)
				return err
			})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != want {
				t.Errorf("%s: %v, want SQLSTATE %s", stmt, err, want)
			}
		}
	}
	// An ordinary update of the same rows still works.
	err := db.App.WithTenant(t.Context(), tenant.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(t.Context(), "UPDATE bookings SET review_note = 'checked' WHERE id = $1", b.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asAdmin is a context acting as the admin mustTenant created for tenant.
func asAdmin(t testing.TB, db *pgtest.DB, tenant *ticketing.Tenant) context.Context {
	t.Helper()
	var adminID string
	if err := db.Admin.QueryRow(context.Background(), "SELECT id::text FROM users WHERE email = $1", "admin@"+tenant.Slug+".test").Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	return ticketing.WithActor(ticketing.WithTenant(context.Background(), tenant), ticketing.Actor{UserID: adminID, Role: string(ticketing.RoleAdmin)})
}

// gaSale is a published event on sale now, with one general-admission
// ticket type of the given capacity at a price of 100.
type gaSale struct {
	eventID, typeID string
	price           int64
}

func newGASale(t testing.TB, db *pgtest.DB, ctx context.Context, capacity int) gaSale {
	t.Helper()
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	price := int64(100)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	return gaSale{eventID: e.ID, typeID: tt.ID, price: price}
}

// booking is a pending booking of one ticket of the sale.
func (sl gaSale) booking() *ticketing.Booking {
	return &ticketing.Booking{ID: ticketing.NewID(), EventID: sl.eventID, Status: ticketing.BookingPending, Total: sl.price, Currency: "NGN",
		ExpiresAt: time.Now().Add(10 * time.Minute), Items: []ticketing.BookingItem{{TicketTypeID: sl.typeID, Quantity: 1, UnitPrice: sl.price}}}
}
