package main

import (
	"testing"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/pgtest"
)

// TestPaymentThroughPgBouncer runs the whole service, API and worker, with
// DATABASE_URL leading through a PgBouncer in transaction pooling mode with
// three server connections: a sale is booked, paid for and confirmed as
// without it.
func TestPaymentThroughPgBouncer(t *testing.T) {
	t.Parallel()
	redirectThenWebhook(newStackWith(t, stackOptions{dbVars: func(t *testing.T, db *pgtest.DB) map[string]string {
		return map[string]string{"DATABASE_URL": db.Bouncer(t, 3).AppURL, "DATABASE_POOL_MODE": "transaction"}
	}}))
}

// TestReadReplicaServesOnlyPublicBrowsing gives the service a read pool
// (DATABASE_READ_URL) through a PgBouncer of its own, then stops that
// PgBouncer: the public browsing of events fails, since it reads there, and
// readiness says so; what must see the latest writes (a buyer's booking, a
// checkout and its confirmation, the organizer's console, availability)
// still works, since it never read there.
func TestReadReplicaServesOnlyPublicBrowsing(t *testing.T) {
	t.Parallel()
	var replica *pgtest.Bouncer
	s := newStackWith(t, stackOptions{dbVars: func(t *testing.T, db *pgtest.DB) map[string]string {
		replica = db.Bouncer(t, 2)
		return map[string]string{"DATABASE_URL": db.Bouncer(t, 3).AppURL, "DATABASE_READ_URL": replica.AppURL,
			"DATABASE_POOL_MODE": "transaction"}
	}})
	sl, token, b := s.pending(10, 1)
	code, out := s.call("POST", "/v1/auth/signin", "", map[string]any{"email": "admin@acme.test", "password": "password-1"})
	if code != 200 {
		t.Fatalf("admin signin: %d %v", code, out)
	}
	admin := out["accessToken"].(string)

	public := map[string]string{"list": "/v1/events", "detail": "/v1/events/" + sl.eventID, "ticket types": "/v1/events/" + sl.eventID + "/ticket-types"}
	for what, path := range public {
		if code, out := s.call("GET", path, "", nil); code != 200 {
			t.Fatalf("public %s with the replica up: %d %v", what, code, out)
		}
	}
	if code, out := s.call("GET", "/readyz", "", nil); code != 200 {
		t.Fatalf("readyz with the replica up: %d %v", code, out)
	}

	replica.Stop()
	for what, path := range public {
		if code, out := s.call("GET", path, "", nil); code != 500 {
			t.Errorf("public %s with the replica down: %d %v, want 500: it reads the replica", what, code, out)
		}
	}
	if code, out := s.call("GET", "/readyz", "", nil); code != 503 {
		t.Errorf("readyz with the replica down: %d %v, want 503", code, out)
	}
	for what, path := range map[string]string{"the buyer's booking": "/v1/bookings/" + b, "availability": "/v1/events/" + sl.eventID + "/availability"} {
		if code, out := s.call("GET", path, token, nil); code != 200 {
			t.Errorf("%s with the replica down: %d %v", what, code, out)
		}
	}
	for what, path := range map[string]string{"events": "/v1/events", "event": "/v1/events/" + sl.eventID} {
		if code, out := s.call("GET", path, admin, nil); code != 200 {
			t.Errorf("the console's %s with the replica down: %d %v", what, code, out)
		}
	}
	out = s.follow(s.pay(s.startPayment(token, b), paystacksim.OutcomeSuccess))
	if out["bookingStatus"] != "confirmed" {
		t.Fatalf("checkout with the replica down: %v", out)
	}
	s.checkInvariants()
}
