package main

import (
	"testing"
)

// TestBookingLimitsAreWired: the booking limits of the configuration reach
// the running service: the open-holds limit from BOOKING_MAX_OPEN_HOLDS and
// the per-user rate limit from BOOKING_RATE_LIMIT_USER.
func TestBookingLimitsAreWired(t *testing.T) {
	t.Parallel()
	s := newStackWith(t, stackOptions{vars: map[string]string{
		"BOOKING_MAX_OPEN_HOLDS": "2", "BOOKING_RATE_LIMIT_USER": "4", "BOOKING_RATE_LIMIT_IP": "100",
	}})
	sl := s.newSale(20)
	token := s.buyer("ada@example.com")
	s.book(token, sl, 1)
	s.book(token, sl, 1)
	body := map[string]any{"eventId": sl.eventID, "items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 1}}}
	for range 2 {
		if code, out := s.call("POST", "/v1/bookings", token, body); code != 409 || out["code"] != "OPEN_HOLDS_LIMIT" {
			t.Fatalf("a third open booking: %d %v", code, out)
		}
	}
	if code, out := s.call("POST", "/v1/bookings", token, body); code != 429 || out["code"] != "TOO_MANY_REQUESTS" {
		t.Fatalf("a fifth request in the window: %d %v", code, out)
	}
	if code, out := s.call("POST", "/v1/bookings", s.buyer("bob@example.com"), body); code != 201 {
		t.Fatalf("another buyer: %d %v", code, out)
	}
}
