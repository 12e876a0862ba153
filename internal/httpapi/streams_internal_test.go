package httpapi

import (
	"testing"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestStreamSlots: one account gets maxStreamsPerUser streams, one
// organizer half of the process's, and a released slot can be taken again.
func TestStreamSlots(t *testing.T) {
	t.Parallel()
	var s streamSlots
	const total = 8
	kind := func(err error) ticketing.Kind { return ticketing.ErrorKind(err) }

	for range maxStreamsPerUser {
		if err := s.acquire("t1", "u1", total); err != nil {
			t.Fatalf("u1's streams within the cap: %v", err)
		}
	}
	if err := s.acquire("t1", "u1", total); kind(err) != ticketing.KindTooManyRequests {
		t.Fatalf("u1 past its cap: %v, want 429", err)
	}
	// The same user id at another organizer is another account.
	if err := s.acquire("t2", "u1", total); err != nil {
		t.Fatalf("u1 of t2: %v", err)
	}
	if err := s.acquire("t1", "u2", total); err != nil {
		t.Fatalf("t1's fourth stream (half of %d): %v", total, err)
	}
	if err := s.acquire("t1", "u3", total); kind(err) != ticketing.KindUnavailable {
		t.Fatalf("t1 past half of the slots: %v, want 503", err)
	}
	for _, u := range []string{"u4", "u5", "u6"} {
		if err := s.acquire("t2", u, total); err != nil {
			t.Fatalf("t2's streams: %v", err)
		}
	}
	if err := s.acquire("t3", "u1", total); kind(err) != ticketing.KindUnavailable {
		t.Fatalf("a full process: %v, want 503", err)
	}
	s.release("t1", "u1")
	if err := s.acquire("t1", "u1", total); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	for range maxStreamsPerUser {
		s.release("t1", "u1")
	}
	s.release("t1", "u2")
	if len(s.users) != 4 || s.tenants["t1"] != 0 || s.open != 4 {
		t.Fatalf("after releasing t1's streams: %d accounts, t1 %d, %d open; want 4, 0, 4", len(s.users), s.tenants["t1"], s.open)
	}
}
