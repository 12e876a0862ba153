package inventory

import (
	"context"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/redistest"
)

// TestCluster runs the scripts on a three-node Redis Cluster: every key an
// event's scripts touch must be in one slot, passed through KEYS.
func TestMain(m *testing.M) { redistest.Main(m) }

func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.NewOn(t, redistest.ClusterURL(t))
	if _, ok := c.UniversalClient.(*goredis.ClusterClient); !ok {
		t.Fatalf("client %T, want a cluster client", c.UniversalClient)
	}

	ctx := context.Background()
	// The buyer limits add keys to every script; they must share the slot.
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10, Sold: 1, MaxPerBuyer: 6}}, maxPerBuyer: 8}
	db.seated("vip", "s", 4)
	s := New(c.UniversalClient, c.Prefix, db)
	// Events of different slots, one of them created by a rebuild on first use.
	for _, ev := range []Event{{"t1", "e1"}, {"t2", "e-2"}, {"t3", "e3"}} {
		if err := s.Hold(ctx, ev, Hold{ID: "h1", ExpiresAt: later(), Items: []Item{{"ga", 3}}, Seats: []string{"s1"}, Buyer: "u1", MaxOpenHolds: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{"s2"}, Buyer: "u1", MaxOpenHolds: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "h3", ExpiresAt: later(), Items: []Item{{"ga", 5}}, Seats: []string{"s1"}}); err == nil {
			t.Fatal("overlapping hold accepted")
		}
		var limit *BuyerLimit
		if err := s.Hold(ctx, ev, Hold{ID: "h4", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Buyer: "u1", MaxOpenHolds: 2}); !errors.As(err, &limit) {
			t.Fatalf("third open hold: err = %v, want *BuyerLimit", err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "old", ExpiresAt: time.Now().Add(-time.Second), Items: []Item{{"ga", 1}}}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Reclaim(ctx, ev); n != 1 || err != nil {
			t.Fatalf("reclaim = %d, %v", n, err)
		}
		if ok, err := s.Confirm(ctx, ev, "h1"); !ok || err != nil {
			t.Fatalf("confirm = %v, %v", ok, err)
		}
		if ok, err := s.Release(ctx, ev, "h2"); !ok || err != nil {
			t.Fatalf("release = %v, %v", ok, err)
		}
		st, err := s.Availability(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if st["ga"] != (Stock{Capacity: 10, Available: 6, Sold: 4}) || st["vip"] != (Stock{Capacity: 4, Available: 3, Sold: 1}) {
			t.Fatalf("availability = %+v", st)
		}
		seats, _, err := s.SeatStatuses(ctx, ev)
		if err != nil || seats["s1"] != SeatSold || seats["s2"] != SeatAvailable {
			t.Fatalf("seats = %v, %v", seats, err)
		}
		if ids, err := s.Holds(ctx, ev); len(ids) != 0 || err != nil {
			t.Fatalf("holds = %v, %v", ids, err)
		}
		if problems, err := s.Verify(ctx, ev); len(problems) > 0 || err != nil {
			t.Fatalf("verify = %v, %v", problems, err)
		}
		if b, err := s.Buyers(ctx, ev); err != nil || b["t:u1"] != 4 || b["o:u1"] != 0 {
			t.Fatalf("buyers = %v, %v", b, err)
		}
		if err := s.Rebuild(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := s.Drop(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}
