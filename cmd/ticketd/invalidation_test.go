package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// peer is one running API of a deployment.
type peer struct {
	t    *testing.T
	base string // http://127.0.0.1:port
}

// call sends a JSON request as the acme tenant (X-Tenant), with a bearer
// token when one is given, and decodes the answer.
func (in peer) call(method, path, token string, body any) (int, map[string]any) {
	in.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			in.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, r)
	if err != nil {
		in.t.Fatal(err)
	}
	req.Header.Set("X-Tenant", "acme")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// within polls cond for up to 20 s: far less than the caches' TTLs in
// TestChangesReachTheOtherInstanceBeforeItsCachesExpire, so that only an
// invalidation can make its conditions hold in time.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChangesReachTheOtherInstanceBeforeItsCachesExpire runs two API
// instances of one deployment (one database, one Redis prefix) with caches
// kept for minutes, primes peer B's caches, makes each change through
// peer A, and waits for B to act on it: a new ticket price in B's
// bookings, a signed-out session refused by B, and a suspended tenant that B
// no longer serves.
func TestChangesReachTheOtherInstanceBeforeItsCachesExpire(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	queue := "test-" + strings.TrimSuffix(strings.TrimPrefix(rdb.Prefix, "test:"), ":")
	redistest.CleanupAsynqQueue(t, rdb, queue)
	redistest.CleanupAsynqQueue(t, rdb, worker.MailQueue(queue))
	cfg := serveConfig(t, db, map[string]string{
		"REDIS_KEY_PREFIX":        rdb.Prefix,
		"WORKER_QUEUE":            queue,
		"TENANT_CACHE_TTL":        "5m",
		"SALE_CACHE_TTL":          "1m",
		"SESSION_CHECK_TTL":       "1m",
		"BOOKING_RATE_LIMIT_USER": "0",
		"BOOKING_RATE_LIMIT_IP":   "0",
		"BOOKING_MAX_OPEN_HOLDS":  "0",
		"DB_MAX_CONNS":            "6",
	})
	a := peer{t, "http://" + startServe(t, cfg)}
	b := peer{t, "http://" + startServe(t, cfg)}
	platformKey := cfg.PlatformAPIKey

	code, out := a.call("POST", "/v1/platform/tenants", platformKey, map[string]any{"slug": "acme", "name": "Acme", "currency": "NGN",
		"admin": map[string]any{"email": "admin@acme.test", "password": "admin-pass-123", "name": "Admin"}})
	if code != 201 {
		t.Fatalf("create tenant: %d %v", code, out)
	}
	tenantID := out["tenant"].(map[string]any)["id"].(string)
	sl := putOnSale(t, db, tenantID, 150000)
	_, out = a.call("POST", "/v1/auth/signin", "", map[string]any{"email": "admin@acme.test", "password": "admin-pass-123"})
	admin, _ := out["accessToken"].(string)
	_, out = a.call("POST", "/v1/auth/signup", "", map[string]any{"email": "ada@example.com", "password": "buyer-pass-123", "name": "Ada"})
	buyer, _ := out["accessToken"].(string)
	if admin == "" || buyer == "" {
		t.Fatal("no access tokens")
	}
	book := func() (int, int64) {
		code, out := b.call("POST", "/v1/bookings", buyer, map[string]any{"eventId": sl.eventID,
			"items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 1}}})
		total, _ := out["total"].(float64)
		return code, int64(total)
	}

	// B caches the tenant, the sale and the session's "not revoked".
	if code, total := book(); code != 201 || total != 150000 {
		t.Fatalf("booking on B: %d, total %d, want 201 at 150000", code, total)
	}
	if code, out := b.call("GET", "/v1/me", buyer, nil); code != 200 {
		t.Fatalf("GET /v1/me on B: %d %v", code, out)
	}

	code, out = a.call("PATCH", "/v1/ticket-types/"+sl.typeID, admin, map[string]any{"price": 175000,
		"allowPriceChangeWithSales": true, "version": sl.version})
	if code != 200 {
		t.Fatalf("price change on A: %d %v", code, out)
	}
	within(t, "B books at the new price", func() bool {
		code, total := book()
		if code != 201 {
			t.Fatalf("booking on B: %d", code)
		}
		return total == 175000
	})

	if code, out := a.call("POST", "/v1/auth/signout", buyer, nil); code != 204 {
		t.Fatalf("sign-out on A: %d %v", code, out)
	}
	within(t, "B refuses the signed-out session", func() bool {
		code, _ := b.call("GET", "/v1/me", buyer, nil)
		return code == 401
	})

	if code, out := b.call("GET", "/v1/settings", "", nil); code != 200 {
		t.Fatalf("settings on B: %d %v", code, out)
	}
	if code, out := a.call("PATCH", "/v1/platform/tenants/"+tenantID, platformKey, map[string]any{"status": "suspended"}); code != 200 {
		t.Fatalf("suspension on A: %d %v", code, out)
	}
	within(t, "B answers 404 for the suspended tenant", func() bool {
		code, _ := b.call("GET", "/v1/settings", "", nil)
		return code == 404
	})
}

// onSale is an event on sale with one general-admission ticket type.
type onSale struct {
	eventID, typeID string
	version         int
}

// putOnSale creates a published event of the tenant, on sale now, with one
// ticket type at price.
func putOnSale(t *testing.T, db *pgtest.DB, tenantID string, price int64) onSale {
	t.Helper()
	ctx := context.Background()
	pdb, err := postgres.Open(ctx, db.AppURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	tenant, err := postgres.NewTenantService(pdb, auth.DefaultHasher()).FindTenantByID(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	ctx = ticketing.WithActor(ticketing.WithTenant(ctx, tenant), ticketing.SystemActor("test"))
	venueCap, capacity := 5000, 2000 // more than the bookings that poll
	venue, err := postgres.NewVenueService(pdb).CreateVenue(ctx, ticketing.NewVenue{Name: "Hall", Timezone: "Africa/Lagos", Capacity: &venueCap})
	if err != nil {
		t.Fatal(err)
	}
	events := postgres.NewEventService(pdb)
	open, start := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour)
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Show", StartsAt: start, EndsAt: start.Add(time.Hour),
		SalesStartAt: &open, SalesEndAt: &start})
	if err != nil {
		t.Fatal(err)
	}
	tt, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	return onSale{eventID: e.ID, typeID: tt.ID, version: tt.Version}
}
