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
	// The explanation comes after the batch: a seat taken then and free by
	// the time it is read (its booking expired meanwhile) was still the
	// reason, since the event sells.
	if _, err := db.Admin.Exec(t.Context(), "UPDATE booking_seats SET active = false"); err != nil {
		t.Fatal(err)
	}
	loser := seatB
	if errs[31] != nil {
		loser = seatA
	}
	if e := ticketing.AsError(postgres.ExplainUnwritten(ctx, store, loser, "")); e == nil || e.Code != ticketing.CodeSeatUnavailable {
		t.Fatalf("the booking of a seat taken then, free now: %v, want SEAT_UNAVAILABLE", e)
	}
	if e := ticketing.AsError(postgres.ExplainUnwritten(ctx, store, closed, "")); e == nil || e.Code != ticketing.CodeSalesClosed {
		t.Fatalf("the booking of a cancelled event, explained: %v, want SALES_CLOSED", e)
	}
	if _, err := db.Admin.Exec(t.Context(), "UPDATE booking_seats SET active = true"); err != nil {
		t.Fatal(err)
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

// TestGroupCommitIsolatesWhatFails puts into one batch, with many good
// bookings, every booking that cannot be written: a retry with the id of
// another booking in the batch, a reused idempotency key, a seat that a
// committed booking holds, and one that fails the statement itself (a
// ticket type that does not exist). Each gets its answer, the good ones are
// written together in a few transactions (not one by one), and what the
// insert would refuse for its text is refused before it joins a batch.
func TestGroupCommitIsolatesWhatFails(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := asAdmin(t, db, mustTenant(t, db, "acme"))
	sl := newGASale(t, db, ctx, 1000)
	store := postgres.NewBookingStore(db.App)

	for _, key := range []string{"nul\x00key", "\xff\xfe", string(make([]byte, 201))} {
		err := store.InsertBooking(ctx, sl.booking(), key)
		if ticketing.ErrorKind(err) != ticketing.KindInvalid {
			t.Fatalf("key %q: %v, want a validation error", key, err)
		}
	}
	bad := sl.booking()
	bad.ID = "not-a-uuid"
	if err := store.InsertBooking(ctx, bad, ""); ticketing.ErrorKind(err) != ticketing.KindInternal {
		t.Fatalf("a booking with a bad id: %v, want an internal error before the insert", err)
	}

	// Hold the writer on a lock while the batch queues.
	lock, err := db.Admin.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	if _, err := lock.Exec(t.Context(), "LOCK TABLE bookings IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- store.InsertBooking(ctx, sl.booking(), "") }()
	// The writer has taken the first booking when its insert waits for the
	// lock (no queued count says so: it is 0 before the booking is queued).
	waitFor(t, "the writer to wait for the lock", func() bool {
		var waiting int
		err := db.Admin.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE relation = 'bookings'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND NOT granted`).Scan(&waiting)
		return err == nil && waiting > 0
	})

	const good = 40
	type insert struct {
		b   *ticketing.Booking
		key string
	}
	var batch []insert
	for range good {
		batch = append(batch, insert{b: sl.booking()})
	}
	twin := sl.booking()
	twin2 := *twin
	keyed, reused := sl.booking(), sl.booking()
	missing := sl.booking()
	missing.Items[0].TicketTypeID = ticketing.NewID()
	batch = append(batch, insert{b: twin}, insert{b: &twin2}, insert{b: keyed, key: "k"}, insert{b: reused, key: "k"}, insert{b: missing})
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, in := range batch {
		wg.Go(func() { errs[i] = store.InsertBooking(ctx, in.b, in.key) })
	}
	waitFor(t, "the batch to queue", func() bool { return postgres.PendingInserts(store) == len(batch) })
	if err := lock.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for i := range good {
		if errs[i] != nil {
			t.Fatalf("good booking %d: %v", i, errs[i])
		}
	}
	oneOf := func(what string, a, b error) {
		t.Helper()
		if (a == nil) == (b == nil) || !errors.Is(errors.Join(a, b), postgres.ErrBookingExists) {
			t.Fatalf("%s: %v and %v, want one written and one ErrBookingExists", what, a, b)
		}
	}
	oneOf("the same id twice", errs[good], errs[good+1])
	oneOf("the same key twice", errs[good+2], errs[good+3])
	if errs[good+4] == nil {
		t.Fatal("a booking of a ticket type that does not exist was written")
	}
	var txs, written, items int
	if err := db.Admin.QueryRow(t.Context(), `SELECT count(DISTINCT created_at) FILTER (WHERE id = ANY($1)), count(*),
		(SELECT count(*) FROM booking_items) FROM bookings`, idsOf(batch[:good], func(in insert) string { return in.b.ID })).Scan(&txs, &written, &items); err != nil {
		t.Fatal(err)
	}
	// 1 + 40 + the twin + one keyed; written in one transaction each, the
	// good ones would have taken 40.
	if written != 1+good+2 || items != written {
		t.Fatalf("%d bookings with %d items written, want %d", written, items, 1+good+2)
	}
	if txs > 8 {
		t.Fatalf("the good bookings were written in %d transactions: the failing one was not isolated by halving", txs)
	}
}

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
