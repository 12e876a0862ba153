package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// TestWaitingRoomOnSale is the waiting room's on-sale benchmark (make
// bench-waitroom, docs/benchmarks.md), skipped unless
// TICKETD_BENCH_WAITROOM=1: 100,000 visitors join one event's room over
// HTTP, as fast as they can, for 5,000 places; admitted visitors then book
// one ticket each. It reports the join rate, the fairness of the admissions
// (inversions of queue order, read from Redis), the booking latency of
// admitted buyers, and that booking attempts of visitors never admitted are
// all 403 with nothing written.
func TestWaitingRoomOnSale(t *testing.T) {
	if os.Getenv("TICKETD_BENCH_WAITROOM") != "1" {
		t.Skip("set TICKETD_BENCH_WAITROOM=1 (make bench-waitroom)")
	}
	const (
		perMinute   = 30_000 // 500 a second: 5,000 places go in about ten seconds
		joiners     = 256
		buyers      = 128
		bookTimeout = 3 * time.Minute
	)
	// TICKETD_BENCH_WAITROOM_VISITORS scales the sale down for a smoke run
	// of the benchmark itself; the places are a twentieth of the visitors.
	visitors := 100_000
	if v, err := strconv.Atoi(os.Getenv("TICKETD_BENCH_WAITROOM_VISITORS")); err == nil && v >= 200 {
		visitors = v
	}
	places, unadmitted := visitors/20, min(1_000, visitors/10)
	s := newSale(t, places, 10, 0)
	// Admissions follow the wall clock: visitors are admitted as the run goes.
	s.clock.followWallClock()
	ctx := context.Background()

	// Visitors are accounts made in bulk, with access tokens minted by the
	// API's own key (signing up 100,000 accounts would measure argon2id).
	var users []string
	rows, err := s.db.Admin.Query(ctx, `INSERT INTO users (tenant_id, email, name, role, password_hash)
		SELECT $1, 'v' || g || '@bench.test', 'Visitor', 'USER', 'x' FROM generate_series(1, $2::int) g RETURNING id::text`,
		s.tenantID(), visitors)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		users = append(users, id)
	}
	if rows.Err() != nil || len(users) != visitors {
		t.Fatalf("%d visitors: %v", len(users), rows.Err())
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: testJWTSecret, Issuer: "ticketd-test", Audience: "ticketd-api", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	access := make([]string, visitors)
	for i, u := range users {
		if access[i], _, err = tokens.Issue(auth.Claims{UserID: u, TenantID: s.tenantID(), Role: "USER", SessionID: ticketing.NewID()}); err != nil {
			t.Fatal(err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = s.srv.Shutdown(context.Background()) })
	// fasthttp's client, as ticketbench's: on two cores, net/http's client
	// would take much of the CPU the server it measures needs.
	base, host := "http://"+ln.Addr().String(), s.slug+".tickets.test"
	client := &fasthttp.Client{MaxConnsPerHost: joiners + buyers, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	call := func(method, path, bearer string, body any, headers ...string) (int, map[string]any, time.Duration) {
		req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(res)
		req.Header.SetMethod(method)
		req.SetRequestURI(base + path)
		req.Header.SetHost(host)
		req.UseHostHeader = true
		req.Header.Set("Authorization", "Bearer "+bearer)
		if body != nil {
			b, _ := json.Marshal(body)
			req.SetBody(b)
			req.Header.SetContentType("application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		start := time.Now()
		if err := client.Do(req, res); err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil, 0
		}
		took := time.Since(start)
		var out map[string]any
		_ = json.Unmarshal(res.Body(), &out)
		return res.StatusCode(), out, took
	}

	// The room opened a moment ago: everyone queues in arrival order.
	s.mustCall(200, "PUT", s.roomPath(), map[string]any{"opensAt": time.Now().Add(-time.Second).Format(time.RFC3339Nano),
		"admitPerMinute": perMinute, "admissionWindowSeconds": 600})

	// Phase 1: every visitor joins, from joiners concurrent clients.
	roomTokens, positions := make([]string, visitors), make([]int, visitors)
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range joiners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < visitors; i = int(next.Add(1) - 1) {
				status, body, _ := call("POST", s.roomPath(), access[i], nil)
				if status != 200 {
					failed.Add(1)
					continue
				}
				roomTokens[i], positions[i] = body["token"].(string), int(body["position"].(float64))
			}
		}()
	}
	wg.Wait()
	joinTook := time.Since(start)
	t.Logf("joins: %d visitors in %v: %.0f joins/s over HTTP (%d failed)", visitors, joinTook.Round(time.Millisecond),
		float64(visitors)/joinTook.Seconds(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d joins failed", failed.Load())
	}

	// Phase 2: visitors in queue order wait for their admission (polling
	// every 200 ms) and book one ticket, until the places are gone.
	order := make([]int, visitors)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return positions[order[a]] < positions[order[b]] })
	var (
		mu                      sync.Mutex
		latencies               []time.Duration
		booked, soldOut, others atomic.Int64
		cursor                  atomic.Int64
		soldOutSeen             atomic.Bool
	)
	deadline := time.Now().Add(bookTimeout)
	start = time.Now()
	for range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !soldOutSeen.Load() && time.Now().Before(deadline) {
				k := int(cursor.Add(1) - 1)
				if k >= visitors {
					return
				}
				i := order[k]
				for time.Now().Before(deadline) {
					_, st, _ := call("GET", s.roomPath(), access[i], nil, httpapi.HeaderWaitingRoomToken, roomTokens[i])
					if st["state"] == ticketing.QueueSoldOut {
						soldOutSeen.Store(true)
						return
					}
					if st["admitted"] == true {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				status, body, took := call("POST", "/v1/bookings", access[i], s.gaBody(1), httpapi.HeaderWaitingRoomToken, roomTokens[i])
				switch {
				case status == 201:
					booked.Add(1)
					mu.Lock()
					latencies = append(latencies, took)
					mu.Unlock()
				case status == 409 && body["code"] == "SOLD_OUT":
					soldOut.Add(1)
					soldOutSeen.Store(true)
				default:
					others.Add(1)
					t.Logf("booking: %d %v", status, body)
				}
			}
		}()
	}
	wg.Wait()
	bookTook := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Round(100 * time.Microsecond)
	}
	t.Logf("bookings: %d booked by admitted buyers in %v (%d SOLD_OUT, %d other answers); latency p50 %v p99 %v max %v",
		booked.Load(), bookTook.Round(time.Millisecond), soldOut.Load(), others.Load(), pct(0.5), pct(0.99), pct(1))
	if booked.Load() != int64(places) {
		t.Errorf("%d booked, want all %d places", booked.Load(), places)
	}

	// Fairness, from Redis: admissions in queue order. An inversion is two
	// admitted visitors of whom the one later in the queue was admitted
	// strictly earlier; a gap is a visitor not admitted while one behind
	// them was.
	keys := s.rdb.Prefix + "wr:{" + s.tenantID() + ":" + s.event + "}:"
	admitted, err := s.rdb.ZRangeWithScores(ctx, keys+"admitted", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	queue, err := s.rdb.ZRangeWithScores(ctx, keys+"queue", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	rank := make(map[string]int, len(queue))
	for r, z := range queue {
		rank[z.Member.(string)] = r
	}
	type adm struct {
		rank  int
		until float64
	}
	adms := make([]adm, 0, len(admitted))
	maxRank := -1
	for _, z := range admitted {
		a := adm{rank: rank[z.Member.(string)], until: z.Score}
		adms = append(adms, a)
		maxRank = max(maxRank, a.rank)
	}
	sort.Slice(adms, func(a, b int) bool { return adms[a].rank < adms[b].rank })
	untils := make([]float64, len(adms))
	for k, a := range adms {
		untils[k] = a.until
	}
	inversions := countInversions(untils)
	gaps := maxRank + 1 - len(adms)
	t.Logf("fairness: %d admitted of %d queued; %d inversions of queue order; %d gaps (visitors skipped)", len(adms), len(queue), inversions, gaps)
	if inversions > 0 || gaps > 0 {
		t.Errorf("admissions out of queue order: %d inversions, %d gaps", inversions, gaps)
	}

	// Visitors never admitted (the back of the queue) cannot book: every
	// attempt is 403 and none of them has a booking.
	var refused atomic.Int64
	var tail []string
	next.Store(0)
	for _, i := range order[visitors-unadmitted:] {
		tail = append(tail, users[i])
	}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < unadmitted; k = int(next.Add(1) - 1) {
				i := order[visitors-unadmitted+k]
				status, body, _ := call("POST", "/v1/bookings", access[i], s.gaBody(1), httpapi.HeaderWaitingRoomToken, roomTokens[i])
				if status == 403 && body["code"] == ticketing.CodeAdmissionRequired {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	var written int
	if err := s.db.Admin.QueryRow(ctx, "SELECT count(*) FROM bookings WHERE user_id = ANY($1::uuid[])", tail).Scan(&written); err != nil {
		t.Fatal(err)
	}
	t.Logf("unadmitted: %d of %d booking attempts refused 403 %s; %d bookings of theirs in Postgres",
		refused.Load(), unadmitted, ticketing.CodeAdmissionRequired, written)
	if refused.Load() != int64(unadmitted) || written != 0 {
		t.Errorf("unadmitted visitors: %d refused of %d, %d bookings written", refused.Load(), unadmitted, written)
	}
	fmt.Fprintf(os.Stderr, "waiting room on-sale: %d visitors joined in %v (%.0f/s); %d places booked in %v, p50 %v p99 %v; %d inversions, %d gaps; %d/%d unadmitted refused, %d written\n",
		visitors, joinTook.Round(time.Millisecond), float64(visitors)/joinTook.Seconds(), booked.Load(), bookTook.Round(time.Millisecond),
		pct(0.5), pct(0.99), inversions, gaps, refused.Load(), unadmitted, written)
}

// countInversions counts the pairs i < j with v[i] > v[j], by merge sort;
// it sorts v.
func countInversions(v []float64) int {
	if len(v) < 2 {
		return 0
	}
	mid := len(v) / 2
	left, right := slices.Clone(v[:mid]), slices.Clone(v[mid:])
	n := countInversions(left) + countInversions(right)
	i, j := 0, 0
	for k := range v {
		if j >= len(right) || (i < len(left) && left[i] <= right[j]) {
			v[k] = left[i]
			i++
		} else {
			v[k] = right[j]
			n += len(left) - i
			j++
		}
	}
	return n
}
