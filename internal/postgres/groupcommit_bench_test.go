package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// BenchmarkInsertBooking writes pending bookings through the group commit
// from a number of concurrent buyers, as the booking path does: the cost of
// a booking in Postgres falls as concurrency makes batches larger.
//
//	go test -run '^$' -bench InsertBooking -benchtime 5000x ./internal/postgres/
func BenchmarkInsertBooking(b *testing.B) {
	db := pgtest.New(b)
	tenant := mustTenant(b, db, "bench")
	var adminID string
	if err := db.Admin.QueryRow(context.Background(), "SELECT id::text FROM users WHERE email = 'admin@bench.test'").Scan(&adminID); err != nil {
		b.Fatal(err)
	}
	ctx := ticketing.WithActor(ticketing.WithTenant(context.Background(), tenant), ticketing.Actor{UserID: adminID, Role: string(ticketing.RoleAdmin)})
	capacity := 1_000_000
	venue, err := postgres.NewVenueService(db.App).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &capacity})
	if err != nil {
		b.Fatal(err)
	}
	events := postgres.NewEventService(db.App)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	price := int64(100)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour), SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		b.Fatal(err)
	}
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		b.Fatal(err)
	}
	store := postgres.NewBookingStore(db.App)
	for _, buyers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("buyers=%d", buyers), func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range buyers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						bk := &ticketing.Booking{ID: ticketing.NewID(), EventID: e.ID, Status: ticketing.BookingPending, Total: price, Currency: "NGN",
							ExpiresAt: time.Now().Add(10 * time.Minute), Items: []ticketing.BookingItem{{TicketTypeID: tt.ID, Quantity: 1, UnitPrice: price}}}
						if err := store.InsertBooking(ctx, bk, ""); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
