package postgres_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
)

// BenchmarkInsertBooking writes pending bookings through the group commit
// from a number of concurrent buyers, as the booking path does: the cost of
// a booking in Postgres falls as concurrency makes batches larger.
//
//	go test -run '^$' -bench InsertBooking -benchtime 5000x ./internal/postgres/
func BenchmarkInsertBooking(b *testing.B) {
	db := pgtest.New(b)
	ctx := asAdmin(b, db, mustTenant(b, db, "bench"))
	sale := newGASale(b, db, ctx, 1_000_000)
	store := postgres.NewBookingStore(db.App)
	for _, buyers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("buyers=%d", buyers), func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range buyers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if err := store.InsertBooking(ctx, sale.booking(), ""); err != nil {
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
