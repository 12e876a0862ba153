package inventory

import (
	"context"
	"errors"
	"testing"
)

// TestKeyedHolds: a keyed hold records its id under its buyer and key; the
// same request again is "already held" while it is held and ErrSeen once it
// ended; another request with the key is ErrKeyReused, also for a sold-out
// event; Unseen holds anyway; ReleaseUnwritten forgets the key; a rebuild
// restores what the Loader lists.
func TestKeyedHolds(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 3}}}
	s := newStore(t, db)
	hold := func(id, buyer, key string, qty int, unseen bool) error {
		return s.Hold(ctx, ev, Hold{ID: id, ExpiresAt: later(), Items: []Item{{"ga", qty}}, Buyer: buyer, IdempotencyKey: key, Unseen: unseen})
	}
	must := func(err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
	}

	must(hold("a1", "ann", "k1", 2, false), nil)
	must(hold("a1", "ann", "k1", 2, false), nil) // held: shared with the first attempt
	must(hold("a2", "ann", "k1", 1, false), ErrKeyReused)
	must(hold("b1", "bob", "k1", 1, false), nil) // another buyer's key
	mustStock(t, s, "ga", Stock{Capacity: 3, Available: 0, Held: 3})
	var u *Unavailable
	if err := hold("a3", "ann", "k2", 1, false); !errors.As(err, &u) {
		t.Fatalf("a new key on a sold-out event: %v, want Unavailable", err)
	}
	must(hold("a2", "ann", "k1", 1, false), ErrKeyReused) // sold out: still told apart

	ok, err := s.Confirm(ctx, ev, "a1")
	mustOK(t, ok, err, true)
	must(hold("a1", "ann", "k1", 2, false), ErrSeen)
	mustStock(t, s, "ga", Stock{Capacity: 3, Available: 0, Held: 1, Sold: 2})

	// b1's booking was never written: releasing it so forgets its key, and
	// the same request is new again.
	ok, err = s.ReleaseUnwritten(ctx, ev, Hold{ID: "b1", Buyer: "bob", IdempotencyKey: "k1"})
	mustOK(t, ok, err, true)
	must(hold("b1", "bob", "k1", 1, false), nil)
	// A plain release keeps the key: the booking exists.
	ok, err = s.Release(ctx, ev, "b1")
	mustOK(t, ok, err, true)
	must(hold("b1", "bob", "k1", 1, false), ErrSeen)
	must(hold("b1", "bob", "k1", 1, true), nil)
	mustVerify(t, s, ev)

	// A rebuild knows the keyed bookings Postgres lists.
	db.types[0].Sold = 2
	db.keyed = []KeyedBooking{{ID: "a1", Buyer: "ann", IdempotencyKey: "k1"}, {ID: "b1", Buyer: "bob", IdempotencyKey: "k1"}}
	db.record(Hold{ID: "b1", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Buyer: "bob"})
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	must(hold("a1", "ann", "k1", 2, false), ErrSeen)
	must(hold("a9", "ann", "k1", 1, false), ErrKeyReused)
	must(hold("b1", "bob", "k1", 1, false), nil) // held again by the rebuild
	mustStock(t, s, "ga", Stock{Capacity: 3, Available: 0, Held: 1, Sold: 2})
	mustVerify(t, s, ev)

	if err := hold("x", "", "k", 1, false); !errors.Is(err, ErrInvalidHold) {
		t.Fatalf("a key without a buyer: %v", err)
	}
}

// TestKeyedBooking: KeyedBooking names the id a buyer's key named in the
// event, nothing for another buyer, another key or a forgotten key, and
// rebuilds an event Redis lost before answering.
func TestKeyedBooking(t *testing.T) {
	ctx := context.Background()
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 3}}}
	s := newStore(t, db)
	named := func(buyer, key, want string) {
		t.Helper()
		if got, err := s.KeyedBooking(ctx, ev, buyer, key); err != nil || got != want {
			t.Fatalf("%s/%s: %q %v, want %q", buyer, key, got, err, want)
		}
	}

	named("ann", "k1", "") // loads the event
	if err := s.Hold(ctx, ev, Hold{ID: "a1", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Buyer: "ann", IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	named("ann", "k1", "a1")
	named("bob", "k1", "")
	named("ann", "k2", "")
	mustStock(t, s, "ga", Stock{Capacity: 3, Available: 2, Held: 1})

	db.keyed = []KeyedBooking{{ID: "a1", Buyer: "ann", IdempotencyKey: "k1"}}
	db.record(Hold{ID: "a1", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Buyer: "ann"})
	if err := s.Drop(ctx, ev); err != nil {
		t.Fatal(err)
	}
	calls := db.calls.Load()
	named("ann", "k1", "a1")
	if db.calls.Load() != calls+1 {
		t.Fatalf("%d loads after the drop, want 1", db.calls.Load()-calls)
	}
	named("ann", "k2", "")
	if db.calls.Load() != calls+1 {
		t.Fatal("a loaded event was loaded again")
	}

	ok, err := s.ReleaseUnwritten(ctx, ev, Hold{ID: "a1", Buyer: "ann", IdempotencyKey: "k1"})
	mustOK(t, ok, err, true)
	named("ann", "k1", "")
	mustStock(t, s, "ga", Stock{Capacity: 3, Available: 3})
	mustVerify(t, s, ev)
}
