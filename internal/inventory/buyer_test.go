package inventory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// mustLimit fails unless err is a *BuyerLimit equal to want.
func mustLimit(t testing.TB, err error, want BuyerLimit) {
	t.Helper()
	var got *BuyerLimit
	if !errors.As(err, &got) {
		t.Fatalf("err = %v, want %+v", err, want)
	}
	if *got != want {
		t.Fatalf("limit = %+v, want %+v", *got, want)
	}
}

func mustBuyers(t testing.TB, s *Store, want map[string]int) {
	t.Helper()
	got, err := s.Buyers(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("buyers = %v, want %v", got, want)
	}
}

// TestBuyerLimitConcurrent: one buyer's parallel holds together never pass
// the ticket type's limit nor the event's, and other buyers still buy.
func TestBuyerLimitConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 40, MaxPerBuyer: 4}}, maxPerBuyer: 6}
	db.seated("vip", "s", 20)
	s := newStore(t, db)

	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		heldGA, heldVIP int
		limited         int
	)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := Hold{ID: fmt.Sprint("b1-", i), ExpiresAt: later(), Buyer: "b1"}
			if i%2 == 0 {
				h.Items = []Item{{"ga", 1}}
			} else {
				h.Seats = []string{fmt.Sprint("s", 1+i/2)}
			}
			err := s.Hold(ctx, ev, h)
			mu.Lock()
			defer mu.Unlock()
			var l *BuyerLimit
			switch {
			case err == nil && len(h.Items) > 0:
				heldGA++
			case err == nil:
				heldVIP++
			case errors.As(err, &l):
				limited++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if heldGA > 4 || heldGA+heldVIP != 6 || limited != 34 {
		t.Fatalf("held GA %d, VIP %d, limited %d: want at most 4 GA and 6 in all", heldGA, heldVIP, limited)
	}
	// A count at zero leaves no field (all six may be seats).
	want := map[string]int{"t:b1": 6, "o:b1": 6}
	if heldGA > 0 {
		want["y:b1:ga"] = heldGA
	}
	if heldVIP > 0 {
		want["y:b1:vip"] = heldVIP
	}
	mustBuyers(t, s, want)
	// Another buyer is not affected.
	if err := s.Hold(ctx, ev, Hold{ID: "b2", ExpiresAt: later(), Buyer: "b2", Items: []Item{{"ga", 4}}}); err != nil {
		t.Fatal(err)
	}
	mustLimit(t, s.Hold(ctx, ev, Hold{ID: "b2-more", ExpiresAt: later(), Buyer: "b2", Items: []Item{{"ga", 1}}}),
		BuyerLimit{Kind: LimitTicketType, Limit: 4, Have: 4, TicketTypeID: "ga"})
	mustVerify(t, s, ev)
}

// TestBuyerLimitCountsBought: confirmed tickets keep counting; released and
// expired holds free the allowance.
func TestBuyerLimitCountsBought(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 40, MaxPerBuyer: 4}}}
	s := newStore(t, db)

	if err := s.Hold(ctx, ev, Hold{ID: "h1", ExpiresAt: later(), Buyer: "b1", Items: []Item{{"ga", 3}}}); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Confirm(ctx, ev, "h1")
	mustOK(t, ok, err, true)
	mustBuyers(t, s, map[string]int{"t:b1": 3, "y:b1:ga": 3})
	mustLimit(t, s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Buyer: "b1", Items: []Item{{"ga", 2}}}),
		BuyerLimit{Kind: LimitTicketType, Limit: 4, Have: 3, TicketTypeID: "ga"})

	// A released hold gives its tickets back to the allowance.
	if err := s.Hold(ctx, ev, Hold{ID: "h3", ExpiresAt: later(), Buyer: "b1", Items: []Item{{"ga", 1}}}); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Release(ctx, ev, "h3")
	mustOK(t, ok, err, true)
	mustBuyers(t, s, map[string]int{"t:b1": 3, "y:b1:ga": 3})

	// So does an expired one, reclaimed lazily.
	if err := s.Hold(ctx, ev, Hold{ID: "short", ExpiresAt: time.Now().Add(2 * time.Second), Buyer: "b1", Items: []Item{{"ga", 1}}}); err != nil {
		t.Fatal(err)
	}
	mustLimit(t, s.Hold(ctx, ev, Hold{ID: "h4", ExpiresAt: later(), Buyer: "b1", Items: []Item{{"ga", 1}}}),
		BuyerLimit{Kind: LimitTicketType, Limit: 4, Have: 4, TicketTypeID: "ga"})
	waitExpired(t, s, "short")
	if err := s.Hold(ctx, ev, Hold{ID: "h4", ExpiresAt: later(), Buyer: "b1", Items: []Item{{"ga", 1}}}); err != nil {
		t.Fatal(err)
	}
	mustBuyers(t, s, map[string]int{"t:b1": 4, "y:b1:ga": 4, "o:b1": 1})

	// An unlimited hold (a late payment taking its tickets again) counts
	// but is not refused.
	if err := s.Hold(ctx, ev, Hold{ID: "late", ExpiresAt: later(), Buyer: "b1", Unlimited: true, Items: []Item{{"ga", 2}}}); err != nil {
		t.Fatal(err)
	}
	mustBuyers(t, s, map[string]int{"t:b1": 6, "y:b1:ga": 6, "o:b1": 2})
	mustVerify(t, s, ev)
}

// TestOpenHoldsLimit: a buyer has at most MaxOpenHolds live holds in an
// event; confirmed and released ones no longer count.
func TestOpenHoldsLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 40}}}
	s := newStore(t, db)
	hold := func(id, buyer string) error {
		return s.Hold(ctx, ev, Hold{ID: id, ExpiresAt: later(), Buyer: buyer, MaxOpenHolds: 2, Items: []Item{{"ga", 1}}})
	}
	for _, id := range []string{"h1", "h2"} {
		if err := hold(id, "b1"); err != nil {
			t.Fatal(err)
		}
	}
	mustLimit(t, hold("h3", "b1"), BuyerLimit{Kind: LimitOpenHolds, Limit: 2, Have: 2})
	if err := hold("other", "b2"); err != nil {
		t.Fatal(err)
	}
	// A retry of a hold it has is still answered as held.
	if err := hold("h1", "b1"); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Confirm(ctx, ev, "h1")
	mustOK(t, ok, err, true)
	if err := hold("h3", "b1"); err != nil {
		t.Fatal(err)
	}
	ok, err = s.Release(ctx, ev, "h2")
	mustOK(t, ok, err, true)
	if err := hold("h4", "b1"); err != nil {
		t.Fatal(err)
	}
	mustLimit(t, hold("h5", "b1"), BuyerLimit{Kind: LimitOpenHolds, Limit: 2, Have: 2})
	mustVerify(t, s, ev)
}

// TestBuyerLimitRebuild: after the event's keys are lost, the rebuild
// recounts every buyer from Postgres (live holds and bought tickets), and
// the limits still hold.
func TestBuyerLimitRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 40, Sold: 3, MaxPerBuyer: 5}}, maxPerBuyer: 6,
		bought: []Bought{{Buyer: "b1", TicketTypeID: "ga", Count: 3}, {Buyer: "b1", TicketTypeID: "vip", Count: 1}}}
	db.seated("vip", "s", 10, "s9")
	s := newStore(t, db)

	h := Hold{ID: "h1", ExpiresAt: later(), Buyer: "b1", MaxOpenHolds: 2, Items: []Item{{"ga", 1}}, Seats: []string{"s1"}}
	if err := s.Hold(ctx, ev, h); err != nil {
		t.Fatal(err)
	}
	db.record(h)
	want := map[string]int{"t:b1": 6, "y:b1:ga": 4, "y:b1:vip": 2, "o:b1": 1}
	mustBuyers(t, s, want)
	mustLimit(t, s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Buyer: "b1", Seats: []string{"s2"}}),
		BuyerLimit{Kind: LimitEvent, Limit: 6, Have: 6})

	// Redis loses the event: the next use rebuilds it, counts included.
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	mustBuyers(t, s, nil)
	mustLimit(t, s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Buyer: "b1", Seats: []string{"s2"}}),
		BuyerLimit{Kind: LimitEvent, Limit: 6, Have: 6})
	mustBuyers(t, s, want)
	snap, err := db.LoadInventory(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := BuyerCounts(snap, time.Now()); !reflect.DeepEqual(got, want) {
		t.Fatalf("BuyerCounts = %v, want %v", got, want)
	}
	mustVerify(t, s, ev)

	// The rebuilt hold still carries its buyer: releasing it frees the
	// allowance, and a forced rebuild agrees.
	ok, err := s.Release(ctx, ev, "h1")
	mustOK(t, ok, err, true)
	mustBuyers(t, s, map[string]int{"t:b1": 4, "y:b1:ga": 3, "y:b1:vip": 1})
	if err := s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Buyer: "b1", Seats: []string{"s2"}}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, s, ev)
}
