package main

import (
	"net"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
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
// PgBouncer: the public browsing of events goes on, from the primary;
// readiness stays 200 and names the replica under "degraded", and the
// replica's metrics say where the reads go. What must see the latest writes
// (a buyer's booking, a checkout and its confirmation, the organizer's
// console, availability) works as before, since it never reads there. Once
// the PgBouncer is back, the public browsing reads it again.
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
	browse := func(when string) {
		t.Helper()
		for what, path := range public {
			if code, out := s.call("GET", path, "", nil); code != 200 {
				t.Fatalf("public %s %s: %d %v", what, when, code, out)
			}
		}
	}
	browse("with the replica up")
	if code, out := s.call("GET", "/readyz", "", nil); code != 200 || out["degraded"] != nil {
		t.Fatalf("readyz with the replica up: %d %v", code, out)
	}
	if up, fallbacks := s.readReplicaMetrics(); up != 1 || fallbacks != 0 {
		t.Fatalf("with the replica up: ticketd_db_read_replica_up %v, ticketd_db_read_fallbacks_total %v; want 1, 0", up, fallbacks)
	}

	replica.Stop()
	browse("with the replica down")
	s.wantDegraded("with the replica down")
	if up, fallbacks := s.readReplicaMetrics(); up != 0 || fallbacks < 1 {
		t.Errorf("with the replica down: ticketd_db_read_replica_up %v, ticketd_db_read_fallbacks_total %v; want 0 and the reads counted", up, fallbacks)
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

	// Readiness checks the replica again once its back-off is over, and
	// the reads follow.
	replica.Restart(t)
	s.waitFor("readyz to find the replica back", func() bool {
		code, out := s.call("GET", "/readyz", "", nil)
		return code == 200 && out["degraded"] == nil
	})
	_, before := s.readReplicaMetrics()
	browse("with the replica back")
	if up, fallbacks := s.readReplicaMetrics(); up != 1 || fallbacks != before {
		t.Errorf("with the replica back: ticketd_db_read_replica_up %v, %v more fallbacks; want 1, none", up, fallbacks-before)
	}
	s.checkInvariants()
}

// TestServeStartsWithoutTheReadReplica: nothing answers at
// DATABASE_READ_URL when the service starts. It starts all the same, says
// so in its log, and serves the public browsing from the primary, ready.
func TestServeStartsWithoutTheReadReplica(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	log := &telemetrytest.LogBuffer{}
	s := newStackWith(t, stackOptions{log: log, vars: map[string]string{
		"DATABASE_READ_URL": "postgres://" + pgtest.AppRole + "@" + closed + "/ticketd?sslmode=disable", "LOG_LEVEL": "warn",
	}})
	if !strings.Contains(log.String(), "DATABASE_READ_URL does not answer") {
		t.Errorf("no warning of the replica in the log:\n%s", log.String())
	}
	sl := s.newSale(10)
	for what, path := range map[string]string{"list": "/v1/events", "detail": "/v1/events/" + sl.eventID, "ticket types": "/v1/events/" + sl.eventID + "/ticket-types"} {
		if code, out := s.call("GET", path, "", nil); code != 200 {
			t.Fatalf("public %s without the replica: %d %v", what, code, out)
		}
	}
	s.wantDegraded("without the replica")
	if up, fallbacks := s.readReplicaMetrics(); up != 0 || fallbacks < 1 {
		t.Errorf("without the replica: ticketd_db_read_replica_up %v, ticketd_db_read_fallbacks_total %v; want 0 and the reads counted", up, fallbacks)
	}
}

// wantDegraded fails the test unless /readyz answers 200 naming the read
// replica, and only it, as not reachable.
func (s *stack) wantDegraded(when string) {
	s.t.Helper()
	code, out := s.call("GET", "/readyz", "", nil)
	if degraded, _ := out["degraded"].([]any); code != 200 || out["status"] != "ok" || len(degraded) != 1 || degraded[0] != "postgres read replica is not reachable" {
		s.t.Errorf("readyz %s: %d %v; want 200 naming the read replica as degraded", when, code, out)
	}
}

// readReplicaMetrics are ticketd_db_read_replica_up and
// ticketd_db_read_fallbacks_total as /metrics has them.
func (s *stack) readReplicaMetrics() (up, fallbacks float64) {
	s.t.Helper()
	m := telemetrytest.Scrape(s.t, s.app.metrics.Registry)
	up, ok := m["ticketd_db_read_replica_up"]
	fallbacks, ok2 := m["ticketd_db_read_fallbacks_total"]
	if !ok || !ok2 {
		s.t.Fatal("the read replica's metrics are not exported")
	}
	return up, fallbacks
}
