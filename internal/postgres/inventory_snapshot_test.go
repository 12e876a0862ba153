package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestLoadInventoryReadsOneSnapshot confirms a pending booking between
// LoadInventory's read of the sold counts and its read of the pending
// bookings. The snapshot must count the booking's tickets once, as held or
// as sold: read at two moments, the booking is in neither, and the rebuilt
// inventory would sell its tickets to someone else while its buyer pays.
func TestLoadInventoryReadsOneSnapshot(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	ctx := asAdmin(t, db, tenant)
	price, capacity := int64(100), 10
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	ga, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	b := &ticketing.Booking{ID: ticketing.NewID(), EventID: e.ID, Status: ticketing.BookingPending,
		Items: []ticketing.BookingItem{{TicketTypeID: ga.ID, Quantity: 2, UnitPrice: price}},
		Total: 2 * price, Currency: "NGN", ExpiresAt: time.Now().Add(10 * time.Minute)}
	if err := postgres.NewBookingStore(db.App).InsertBooking(ctx, b, ""); err != nil {
		t.Fatal(err)
	}

	// A pool whose connections confirm the booking, on another connection,
	// just before LoadInventory asks for the pending bookings.
	cfg, err := pgxpool.ParseConfig(db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := &confirmBefore{sql: postgres.Queries()["SelectLiveHolds"], confirm: func(ctx context.Context) error {
		_, err := db.Admin.Exec(ctx, `WITH b AS (UPDATE bookings SET status = 'confirmed' WHERE id = $1 RETURNING id)
			UPDATE ticket_types SET sold = sold + 2 WHERE id = $2 AND EXISTS (SELECT 1 FROM b)`, b.ID, ga.ID)
		return err
	}}
	cfg.ConnConfig.Tracer = confirmed
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	snap, err := postgres.NewBookingStore(&postgres.DB{Pool: pool}).LoadInventory(t.Context(), inventory.Event{TenantID: tenant.ID, EventID: e.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := confirmed.err(); err != nil {
		t.Fatalf("confirming the booking during the load: %v", err)
	}
	var st string
	if err := db.Admin.QueryRow(t.Context(), "SELECT status FROM bookings WHERE id = $1", b.ID).Scan(&st); err != nil || st != "confirmed" {
		t.Fatalf("the booking is %q (%v) after the load, want confirmed", st, err)
	}
	counted := 0
	for _, tt := range snap.TicketTypes {
		counted += tt.Sold
	}
	for _, h := range snap.Holds {
		for _, it := range h.Items {
			counted += it.Quantity
		}
	}
	if counted != 2 {
		t.Fatalf("the snapshot counts %d tickets sold or held, want the booking's 2 once", counted)
	}
}

// confirmBefore is a pgx tracer that runs confirm once, before the first
// query whose SQL is sql.
type confirmBefore struct {
	sql     string
	confirm func(ctx context.Context) error
	once    sync.Once
	mu      sync.Mutex
	failed  error
}

func (c *confirmBefore) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if data.SQL == c.sql {
		c.once.Do(func() {
			err := c.confirm(ctx)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.failed = err
		})
	}
	return ctx
}

func (c *confirmBefore) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *confirmBefore) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// TestLoadInventoryListsSettledHolds: a confirmation committed in Postgres
// whose Redis step has not run is listed in the snapshot's Settled (its hold
// id), so that the confirmation that follows a rebuild knows the load
// counted the sale; once Redis followed, it is listed no more.
func TestLoadInventoryListsSettledHolds(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	tenant := mustTenant(t, db, "acme")
	ctx := asAdmin(t, db, tenant)
	sale := newGASale(t, db, ctx, 10)
	bookingID, ref := paidBooking(t, db, ctx, sale)
	store := postgres.NewBookingStore(db.App)
	ev := inventory.Event{TenantID: tenant.ID, EventID: sale.eventID}
	snap, err := store.LoadInventory(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Settled) != 1 || snap.Settled[0] != bookingID || len(snap.Holds) != 0 || snap.TicketTypes[0].Sold != 1 {
		t.Fatalf("settled %v, holds %v, sold %d; want the booking's hold settled and its ticket sold", snap.Settled, snap.Holds, snap.TicketTypes[0].Sold)
	}
	if err := postgres.NewPaymentStore(db.App).MarkInventorySynced(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if snap, err = store.LoadInventory(ctx, ev); err != nil || len(snap.Settled) != 0 {
		t.Fatalf("after the Redis step: settled %v (%v), want none", snap.Settled, err)
	}
}
