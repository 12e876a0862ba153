package inventory

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkHoldGA measures the raw rate of the hold script: each operation
// holds one GA ticket of a ticket type too large to run out (one EVALSHA).
// Eight goroutines per CPU keep Redis busy rather than measuring one
// connection's round trip; ns/op is then about Redis's time per hold.
func BenchmarkHoldGA(b *testing.B) {
	ctx := context.Background()
	s := newStore(b, &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 1 << 40}}})
	if _, err := s.Availability(ctx, ev); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	exp := later()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h := Hold{ID: fmt.Sprint("b", n.Add(1)), ExpiresAt: exp, Items: []Item{{"ga", 1}}}
			if err := s.Hold(ctx, ev, h); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
