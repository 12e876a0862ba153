package postgres_test

import (
	"context"
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

// BenchmarkQueryExecMode compares pgx's query exec modes on the two hot
// paths: the group commit's inserts (64 concurrent buyers) and a buyer's
// read of an event with its ticket types. cache_statement is pgx's
// default; the others are what DATABASE_POOL_MODE=transaction allows
// (cache_describe, its choice, and exec and simple_protocol in the URL);
// "bouncer" is cache_describe through a PgBouncer in transaction pooling
// mode with 4 server connections (docs/benchmarks.md).
//
//	go test -run '^$' -bench QueryExecMode -benchtime 3000x ./internal/postgres/
func BenchmarkQueryExecMode(b *testing.B) {
	db := pgtest.New(b)
	ctx := asAdmin(b, db, mustTenant(b, db, "bench"))
	sale := newGASale(b, db, ctx, 1_000_000)
	bouncer := db.Bouncer(b, 4)
	for _, mode := range []string{"cache_statement", "cache_describe", "exec", "simple_protocol", "bouncer"} {
		url := db.AppURL + "&default_query_exec_mode=" + mode
		var opts []postgres.Option
		if mode == "bouncer" {
			url, opts = bouncer.AppURL, []postgres.Option{postgres.TransactionPooling()}
		}
		pool, err := postgres.Open(context.Background(), url, 8, opts...)
		if err != nil {
			b.Fatal(err)
		}
		store, events := postgres.NewBookingStore(pool), postgres.NewEventService(pool)
		b.Run("insert/mode="+mode, func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 64 {
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
		b.Run("read/mode="+mode, func(b *testing.B) {
			for b.Loop() {
				if _, err := events.FindEventByID(ctx, sale.eventID, false); err != nil {
					b.Fatal(err)
				}
			}
		})
		pool.Close()
	}
}
