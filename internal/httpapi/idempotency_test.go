package httpapi_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/booking"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestKeyedBookingsReadPostgresOnlyWhenABookingMayExist: a booking request
// with an Idempotency-Key costs what one without costs (no Postgres read for
// a new key, accepted or refused, nor for a key reused with another
// request), and a retry still gets its booking after
// the sale sold out, after the booking expired, after Redis lost the event,
// after the sale closed, and from another instance; a retry never takes
// tickets again.
func TestKeyedBookingsReadPostgresOnlyWhenABookingMayExist(t *testing.T) {
	t.Parallel()
	s := newSale(t, 4, 10, 2)
	buyer, other := s.buyers[0], s.buyers[1]
	key := func(k string) []string { return []string{"Idempotency-Key", k} }
	finds := func(want int64, when string) {
		t.Helper()
		if got := s.store.finds.Load(); got != want {
			t.Fatalf("%s: %d reads of a booking in Postgres, want %d", when, got, want)
		}
	}
	held := func(want float64, when string) {
		t.Helper()
		if st := s.stockOf(s.ga); st["held"] != want || st["available"] != 4-want {
			t.Fatalf("%s: %v, want %v held", when, st, want)
		}
	}

	first := s.book(buyer, s.gaBody(2), key("k1")...)
	second := s.book(buyer, s.gaBody(2), key("k2")...)
	if first.status != 201 || second.status != 201 {
		t.Fatalf("book: %d %s / %d %s", first.status, first.raw, second.status, second.raw)
	}
	assertError(t, s.book(other, s.gaBody(1), key("k3")...), 409, "SOLD_OUT")
	finds(0, "new keys, held and refused")

	// Sold out, a retry still gets its booking, and holds nothing more.
	again := s.book(buyer, s.gaBody(2), key("k1")...)
	if again.status != 201 || again.body["id"] != first.body["id"] || again.body["status"] != "pending" {
		t.Fatalf("retry while sold out: %d %s", again.status, again.raw)
	}
	held(4, "after a retry")

	// The first booking expires; its retry gets it, expired, and takes no
	// tickets although there are some again.
	if _, err := s.db.Admin.Exec(t.Context(), "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", first.body["id"]); err != nil {
		t.Fatal(err)
	}
	ctx := ticketing.WithActor(ticketing.WithTenant(t.Context(), &ticketing.Tenant{ID: s.tenantID()}), ticketing.SystemActor("test"))
	if n, err := s.bookings.SweepExpired(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	held(2, "after the expiry")
	expired := s.book(buyer, s.gaBody(2), key("k1")...)
	if expired.status != 201 || expired.body["id"] != first.body["id"] || expired.body["status"] != "expired" {
		t.Fatalf("retry of an expired booking: %d %s", expired.status, expired.raw)
	}
	held(2, "after the retry of an expired booking")

	// Redis loses the event: the rebuild knows the keyed bookings.
	if err := s.stock.Drop(t.Context(), inventory.Event{TenantID: s.tenantID(), EventID: s.event}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if res := s.book(buyer, s.gaBody(2), key(k)...); res.status != 201 {
			t.Fatalf("retry of %s after a rebuild: %d %s", k, res.status, res.raw)
		}
	}
	held(2, "after retries on a rebuilt event")

	// Another instance (its own caches) answers the same.
	store := &countingStore{BookingStore: postgres.NewBookingStore(s.db.App)}
	instance := booking.New(store, inventory.New(s.rdb.UniversalClient, s.rdb.Prefix, store), noScheduler{}, slog.New(slog.DiscardHandler), 0)
	bctx := ticketing.WithActor(ticketing.WithTenant(t.Context(), &ticketing.Tenant{ID: s.tenantID()}),
		ticketing.Actor{UserID: buyer.userID, Role: string(ticketing.RoleUser)})
	b, err := instance.CreateBooking(bctx, ticketing.NewBooking{EventID: s.event, IdempotencyKey: "k2",
		Items: []ticketing.ItemRequest{{TicketTypeID: s.ga, Quantity: 2}}})
	if err != nil || b.ID != second.body["id"] {
		t.Fatalf("another instance: %v %v", b, err)
	}
	held(2, "after a retry on another instance")

	// The same key with another request is refused, by Redis, and holds
	// nothing; after a rebuild too.
	before := s.store.finds.Load()
	assertError(t, s.book(buyer, s.gaBody(1), key("k2")...), 409, "IDEMPOTENCY_KEY_REUSED")
	if err := s.stock.Drop(t.Context(), inventory.Event{TenantID: s.tenantID(), EventID: s.event}); err != nil {
		t.Fatal(err)
	}
	assertError(t, s.book(buyer, s.gaBody(1), key("k1")...), 409, "IDEMPOTENCY_KEY_REUSED")
	finds(before, "reused keys")
	held(2, "after a reused key")

	// The sale closes: the retry still names its booking.
	s.mustCall(200, "PATCH", "/v1/events/"+s.event, map[string]any{"version": 2, "salesEndAt": rfc(time.Now().Add(-time.Minute)),
		"salesStartAt": rfc(time.Now().Add(-time.Hour))})
	if res := s.book(buyer, s.gaBody(2), key("k2")...); res.status != 201 || res.body["id"] != second.body["id"] {
		t.Fatalf("retry after the sale closed: %d %s", res.status, res.raw)
	}
	assertError(t, s.book(buyer, s.gaBody(2), key("k9")...), 422, "SALES_CLOSED")
	s.checkInvariants()
}
