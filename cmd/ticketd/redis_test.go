package main

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// TestMain stops the Redis Cluster and Sentinel that TestRedisTopologies
// starts.
// TestRedisTopologies runs a sale through the whole service, API and
// worker as `ticketd dev` wires them, on a Redis Cluster of three primaries
// and on a primary found through Sentinel: every script, pipeline and asynq
// task of a booking, its payment, an expiry, a refund and a sign-out.
func TestRedisTopologies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		url      func(testing.TB) string
		topology redis.Topology
	}{
		{"cluster", redistest.ClusterURL, redis.Cluster},
		{"sentinel", redistest.SentinelURL, redis.Sentinel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStackWith(t, stackOptions{redisURL: tc.url(t), vars: map[string]string{
				// The limits' scripts run on every booking.
				"BOOKING_MAX_OPEN_HOLDS": "5", "BOOKING_RATE_LIMIT_USER": "100", "BOOKING_RATE_LIMIT_IP": "100",
			}})
			if s.app.rdb.Topology != tc.topology {
				t.Fatalf("topology %s, want %s", s.app.rdb.Topology, tc.topology)
			}
			if _, cluster := s.app.rdb.UniversalClient.(*goredis.ClusterClient); cluster != (tc.topology == redis.Cluster) {
				t.Fatalf("client %T on %s", s.app.rdb.UniversalClient, tc.topology)
			}
			s.saleOnRedis()
		})
	}
}

// saleOnRedis books, pays, expires, refunds and signs out, and checks the
// payment and inventory invariants.
func (s *stack) saleOnRedis() {
	t := s.t
	sl := s.newSale(10)
	token := s.buyer("ada@example.com")

	// Paid through Paystack: the redirect confirms the booking, and the
	// webhook's verification task finds it settled.
	paid := s.book(token, sl, 2)
	ref := s.startPayment(token, paid)
	if out := s.follow(s.pay(ref, paystacksim.OutcomeSuccess)); out["bookingStatus"] != "confirmed" {
		t.Fatalf("after paying: %v", out)
	}
	s.waitFor("the webhook arrives", func() bool { return s.count("SELECT count(*) FROM webhook_events WHERE reference = $1", ref) == 1 })
	if n := s.count("SELECT count(*) FROM tickets WHERE booking_id = $1", paid); n != 2 {
		t.Fatalf("%d tickets, want 2", n)
	}

	// Unpaid: the hold runs out, and the worker's sweep expires it.
	unpaid := s.book(token, sl, 3)
	s.expire(sl, unpaid)
	s.waitStatus(unpaid, "expired")
	s.wantStock(sl, 8, 0, 2)

	// Refunded in full by an admin (the sign-in guard's script): the
	// worker asks Paystack, and the places are on sale again.
	if code, out := s.refund(s.admin(), paid, -1, "on a "+s.app.rdb.Topology.String()); code != 201 {
		t.Fatalf("refund: %d %v", code, out)
	}
	s.waitFor("the refund is processed", func() bool {
		return s.count("SELECT count(*) FROM refunds WHERE booking_id = $1 AND status = 'processed'", paid) == 1
	})
	s.wantStock(sl, 10, 0, 0)

	// Signing out revokes the session.
	if code, out := s.call("POST", "/v1/auth/signout", token, nil); code != 204 {
		t.Fatalf("signout: %d %v", code, out)
	}
	if code, out := s.call("GET", "/v1/bookings/"+paid, token, nil); code != 401 {
		t.Fatalf("the revoked session's token: %d %v", code, out)
	}

	// The queues' metrics (of `ticketd work`) read asynq's state there.
	reg := prometheus.NewRegistry()
	reg.MustRegister(telemetry.NewQueueCollector(s.app.tasks.Inspector(), worker.Queues(s.queue), 30*time.Second, s.app.logger))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var processed float64
	for _, f := range families {
		switch f.GetName() {
		case "ticketd_queue_scrape_errors_total":
			if n := f.GetMetric()[0].GetCounter().GetValue(); n != 0 {
				t.Errorf("%v errors reading the queues", n)
			}
		case "ticketd_queue_processed_total":
			for _, m := range f.GetMetric() {
				processed += m.GetCounter().GetValue()
			}
		}
	}
	if processed == 0 {
		t.Error("the queues' metrics count no processed task")
	}
	s.checkInvariants()
}

// wantStock checks the sale's availability as the API shows it.
func (s *stack) wantStock(sl sale, available, held, sold float64) {
	s.t.Helper()
	code, out := s.call("GET", "/v1/events/"+sl.eventID+"/availability", "", nil)
	if code != 200 {
		s.t.Fatalf("availability: %d %v", code, out)
	}
	st := out["ticketTypes"].([]any)[0].(map[string]any)
	if st["available"] != available || st["held"] != held || st["sold"] != sold {
		s.t.Fatalf("availability %v, want %v available, %v held, %v sold", st, available, held, sold)
	}
}
