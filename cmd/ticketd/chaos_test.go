//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/paystack/paystacksim"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// TestScaleOutChaos runs ticketd as it is scaled out: three `ticketd serve`
// and two `ticketd work` processes of the built binary on one Postgres and
// one Redis, behind a round-robin front that buyers and Paystack's webhooks
// go through. A flash sale with more demand than places is spread across
// them; part-way through, one API and one worker are killed with SIGKILL
// and Redis loses the test's data. Once the sale has settled, nothing was
// oversold, no seat was sold twice, every confirmed booking was paid exactly
// once, every charge is a confirmed booking or a refund, every booking left
// unpaid expired once, and `ticketd inventory check` finds Redis and
// Postgres agreeing.
//
// Buyers retry a request that failed in transport or with a 5xx through the
// front (so on another instance) with the same Idempotency-Key, as an app
// does. Holds last at least a minute (holdMinutes); the test ends the holds
// of the buyers who walk away itself, as the passing minute would, by
// moving their bookings' expiry into the past in Postgres for the workers'
// sweep to find.
//
// It takes a while and five processes: it runs only with TICKETD_CHAOS set
// (make chaos): to "1" on the shared Redis, to "cluster" on a three-master
// Redis Cluster of the test's own, where the master serving the event's
// inventory loses the test's keys (as a master restarting without
// persistence would; the other masters keep theirs). TICKETD_CHAOS_LOGS=dir keeps the processes' whole logs
// there.
func TestScaleOutChaos(t *testing.T) {
	var redisURL string
	switch mode := os.Getenv("TICKETD_CHAOS"); mode {
	case "":
		t.Skip("set TICKETD_CHAOS=1 or cluster (make chaos): five ticketd processes and a flash sale")
	case "1":
	case "cluster":
		redisURL = redistest.ClusterURL(t)
	default:
		t.Fatalf("TICKETD_CHAOS=%q: want 1 or cluster", mode)
	}
	started := time.Now()
	bin := buildTicketd(t)
	front := newChaosFront(t)
	s := newStackWith(t, stackOptions{api: front.URL, redisURL: redisURL, vars: map[string]string{
		"AUTH_RATE_LIMIT_IP": "100000", // every buyer signs up from 127.0.0.1
		"DB_MAX_CONNS":       "4",      // five processes share the server's connections
	}})
	c := &chaos{t: t, s: s, sale: s.newChaosSale(), afterChaos: make(chan struct{})}
	for i := range 3 {
		api := c.start(bin, fmt.Sprintf("serve-%d", i), map[string]string{"PORT": "", "LOG_LEVEL": "warn"}, "serve")
		front.add(api.addr)
		c.apis = append(c.apis, api)
	}
	for i := range 2 {
		// Info, for the workers' "expired bookings" lines.
		c.workers = append(c.workers, c.start(bin, fmt.Sprintf("work-%d", i), map[string]string{"METRICS_ADDR": "", "LOG_LEVEL": "info"}, "work"))
	}
	tokens := c.signUp(chaosBuyers)
	t.Logf("%d processes ready and %d buyers signed up in %v", len(c.apis)+len(c.workers), len(tokens), time.Since(started).Round(time.Millisecond))

	c.sell(tokens)
	t.Logf("sale over after %v: %d bookings (%d after the chaos), %d requests sent again", time.Since(started).Round(time.Millisecond),
		c.booked.Load(), c.booked.Load()-c.bookedAtChaos, c.resent.Load())
	c.check(bin)
	t.Logf("settled and checked after %v", time.Since(started).Round(time.Millisecond))
}

// The sale: chaosBuyers buyers each send chaosRequests booking requests
// (for 1 or 2 general-admission tickets or one random seat), half before the
// chaos and half after it; the chaos strikes once chaosAt bookings are made
// (or every buyer has sent the first half).
const (
	chaosBuyers   = 80
	chaosRequests = 4
	chaosGA       = 120 // general-admission places
	chaosRows     = 6   // of 10 seats: the seated type's places
	chaosAt       = 60
)

// chaos is one run of TestScaleOutChaos.
type chaos struct {
	t       *testing.T
	s       *stack
	sale    chaosSale
	apis    []*ticketdProcess
	workers []*ticketdProcess

	// booked counts the bookings made; the chaos strikes at chaosAt and
	// closes afterChaos.
	booked        atomic.Int64
	bookedAtChaos int64
	strike        sync.Once
	afterChaos    chan struct{}
	// resent counts the requests sent again after a transport error or a
	// 5xx.
	resent atomic.Int64

	mu sync.Mutex
	// The bookings by what their buyer did: paid at once, walked away
	// (their holds run out), paid once the booking had expired.
	paid, walkedAway, paidLate []string
}

// chaosSale is the flash sale's event: a general-admission type and a
// seated one.
type chaosSale struct {
	eventID, gaID, seatedID string
	seats                   []string
}

// newChaosSale puts the flash sale's event on sale, with the shortest hold
// an event may have.
func (s *stack) newChaosSale() chaosSale {
	s.t.Helper()
	ctx := s.systemCtx()
	rows := func(n int) []ticketing.RowInput {
		out := make([]ticketing.RowInput, n)
		for i := range out {
			out[i] = ticketing.RowInput{Label: string(rune('A' + i)), Count: 10}
		}
		return out
	}
	// The standing area's seats are never sold as seats: they make the
	// venue large enough for the general-admission places.
	venue, err := postgres.NewVenueService(s.app.db).CreateVenue(ctx, ticketing.NewVenue{Name: "Arena", Timezone: "Africa/Lagos",
		Layout: &ticketing.LayoutInput{Sections: []ticketing.SectionInput{{Name: "Stalls", Rows: rows(chaosRows)}, {Name: "Standing", Rows: rows(chaosGA / 10)}}}})
	if err != nil {
		s.t.Fatal(err)
	}
	events := postgres.NewEventService(s.app.db)
	open, start, hold := time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour), 1
	e, err := events.CreateEvent(ctx, ticketing.NewEvent{VenueID: venue.ID, Title: "Flash sale", StartsAt: start, EndsAt: start.Add(time.Hour),
		SalesStartAt: &open, SalesEndAt: &start, HoldMinutes: &hold})
	if err != nil {
		s.t.Fatal(err)
	}
	gaPrice, seatPrice, capacity := int64(150000), int64(250000), chaosGA
	ga, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "GA", Kind: ticketing.GeneralAdmission, Price: &gaPrice, Capacity: &capacity})
	if err != nil {
		s.t.Fatal(err)
	}
	seated, err := events.CreateTicketType(ctx, e.ID, ticketing.NewTicketType{Name: "Stalls", Kind: ticketing.Seated, Price: &seatPrice,
		Seats: ticketing.SeatSelection{Sections: []string{"Stalls"}}})
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
		s.t.Fatal(err)
	}
	s.events = append(s.events, e.ID)
	sale := chaosSale{eventID: e.ID, gaID: ga.ID, seatedID: seated.ID}
	for _, r := range venue.Layout.Sections[0].Rows {
		for _, seat := range r.Seats {
			sale.seats = append(sale.seats, seat.ID)
		}
	}
	return sale
}

// signUp signs n buyers up through the front and returns their tokens.
func (c *chaos) signUp(n int) []string {
	c.t.Helper()
	tokens := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			code, out := c.send("POST", "/v1/auth/signup", "", map[string]any{"email": fmt.Sprintf("buyer%d@example.com", i), "password": "buyer-pass-123", "name": "B"})
			if code != 201 {
				c.t.Errorf("signup %d: %d %v", i, code, out)
				return
			}
			tokens[i] = out["accessToken"].(string)
		}()
	}
	wg.Wait()
	if c.t.Failed() {
		c.t.FailNow()
	}
	return tokens
}

// sell runs the sale: every buyer at once, the chaos part-way through.
func (c *chaos) sell(tokens []string) {
	seed := rand.Uint64()
	c.t.Logf("buyers' seed %d", seed)
	var firstHalf, all sync.WaitGroup
	for i, token := range tokens {
		firstHalf.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			c.buy(i, token, rand.New(rand.NewPCG(seed, uint64(i))), firstHalf.Done)
		}()
	}
	go func() {
		firstHalf.Wait()
		c.strikeOnce() // the sale was quick: the second half comes after the chaos
	}()
	all.Wait()
}

// buy is one buyer's requests; halfway it calls half and waits for the
// chaos.
func (c *chaos) buy(i int, token string, rng *rand.Rand, half func()) {
	for r := range chaosRequests {
		if r == chaosRequests/2 {
			half()
			<-c.afterChaos
		}
		body := map[string]any{"eventId": c.sale.eventID}
		if rng.IntN(2) == 0 {
			body["items"] = []any{map[string]any{"ticketTypeId": c.sale.gaID, "quantity": 1 + rng.IntN(2)}}
		} else {
			body["seats"] = []string{c.sale.seats[rng.IntN(len(c.sale.seats))]}
		}
		code, out := c.send("POST", "/v1/bookings", token, body, "Idempotency-Key", fmt.Sprintf("buyer%d-%d", i, r))
		switch {
		case code == 201 || code == 200:
		case code == 409 && (out["code"] == ticketing.CodeSoldOut || out["code"] == ticketing.CodeSeatUnavailable):
			continue
		default:
			if code != 0 {
				c.t.Errorf("buyer %d booking %v: %d %v", i, body, code, out)
			}
			continue
		}
		id, _ := out["id"].(string)
		if out["status"] != "pending" {
			// A retry found the booking its key made, which ended
			// meanwhile (its hold lost while booking).
			c.t.Logf("buyer %d's booking %s is %v", i, id, out["status"])
			continue
		}
		if c.booked.Add(1) == chaosAt {
			go c.strikeOnce()
		}
		switch n := rng.IntN(20); {
		case n < 13:
			c.pay(token, id, rng.IntN(3) == 0)
		case n < 17:
			c.walkAway(token, id, rng.IntN(2) == 0)
		default:
			c.payLate(token, id, rng.IntN(2) == 0)
		}
	}
}

// pay starts the booking's payment, pays it at Paystack, and follows the
// redirect back when follow is set.
func (c *chaos) pay(token, id string, follow bool) {
	ref := c.startPayment(token, id)
	if ref == "" {
		return
	}
	c.record(&c.paid, id)
	c.payAt(ref, follow)
}

// walkAway leaves the booking unpaid, after starting its payment when
// started is set: its hold runs out.
func (c *chaos) walkAway(token, id string, started bool) {
	if started && c.startPayment(token, id) == "" {
		return
	}
	c.record(&c.walkedAway, id)
	c.expireNow(id)
}

// payLate starts the booking's payment, lets its hold run out and pays
// once the booking has expired: it is confirmed if tickets are left,
// otherwise it fails and the charge is refunded.
func (c *chaos) payLate(token, id string, follow bool) {
	ref := c.startPayment(token, id)
	if ref == "" {
		return
	}
	c.record(&c.paidLate, id)
	c.expireNow(id)
	deadline := time.Now().Add(90 * time.Second)
	for c.status(id) != "expired" {
		if time.Now().After(deadline) {
			c.t.Errorf("booking %s did not expire within 90s of its hold running out (%s)", id, c.status(id))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.payAt(ref, follow)
}

func (c *chaos) record(list *[]string, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*list = append(*list, id)
}

// startPayment opens the booking's payment attempt and returns its
// reference ("" when refused, as an error of the test).
func (c *chaos) startPayment(token, id string) string {
	code, out := c.send("POST", "/v1/bookings/"+id+"/payments", token, nil, "Idempotency-Key", "pay-"+id)
	ref, _ := out["reference"].(string)
	if (code != 201 && code != 200) || ref == "" {
		if code != 0 {
			c.t.Errorf("starting the payment of %s: %d %v", id, code, out)
		}
		return ""
	}
	return ref
}

// payAt pays the reference at Paystack and, when follow is set, comes back
// through the callback redirect.
func (c *chaos) payAt(ref string, follow bool) {
	redirect, err := c.s.sim.Pay(context.Background(), ref, paystacksim.OutcomeSuccess)
	if err != nil {
		c.t.Errorf("paying %s: %v", ref, err)
		return
	}
	if !follow {
		return
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Path != "/v1/payments/callback" {
		c.t.Errorf("redirect %q does not go to the callback", redirect)
		return
	}
	if code, out := c.send("GET", u.Path+"?"+u.RawQuery, "", nil); code != 200 && code != 0 {
		c.t.Errorf("callback of %s: %d %v", ref, code, out)
	}
}

// expireNow makes a pending booking's hold run out now, as the passing of
// its minute would, for the workers' sweep to expire it.
func (c *chaos) expireNow(id string) {
	if _, err := c.s.db.Admin.Exec(context.Background(),
		"UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1 AND status = 'pending'", id); err != nil {
		c.t.Error(err)
	}
}

func (c *chaos) status(id string) string {
	var st string
	if err := c.s.db.Admin.QueryRow(context.Background(), "SELECT status FROM bookings WHERE id = $1", id).Scan(&st); err != nil {
		c.t.Error(err)
	}
	return st
}

// send sends a request through the front, and again (to whichever instance
// the front picks, with the same headers, Idempotency-Key included) while
// it fails in transport or with a 5xx, or is told that another request is
// starting the payment (which the killed API may have been answering), for
// up to two minutes. It returns 0 when it gave up, as an error of the test.
func (c *chaos) send(method, path, token string, body any, headers ...string) (int, map[string]any) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out, err := c.s.do(method, path, token, body, headers...)
		if err == nil && code < 500 && out["code"] != ticketing.CodePaymentInProgress {
			return code, out
		}
		if time.Now().After(deadline) {
			c.t.Errorf("%s %s: still failing after 2m: %d %v %v", method, path, code, out, err)
			return 0, nil
		}
		c.resent.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

// strikeOnce is the chaos, once: one API and one worker killed with
// SIGKILL, and Redis's copy of the test's data lost, while buyers book and
// pay.
func (c *chaos) strikeOnce() {
	c.strike.Do(func() {
		defer close(c.afterChaos)
		c.bookedAtChaos = c.booked.Load()
		c.apis[0].kill()
		c.workers[0].kill()
		// On a cluster, the master of the event's slot.
		eventKey := c.s.app.rdb.Prefix + "inv:{" + c.s.tenant.ID + ":" + c.sale.eventID + "}:meta"
		n, err := loseNamespace(context.Background(), c.s.app.rdb.UniversalClient, eventKey, c.s.app.rdb.Prefix, c.s.queue, worker.MailQueue(c.s.queue))
		if err != nil {
			c.t.Errorf("losing Redis's data: %v", err)
		}
		c.t.Logf("chaos after %d bookings: killed %s and %s, Redis lost %d keys", c.bookedAtChaos, c.apis[0].name, c.workers[0].name, n)
	})
}

// loseNamespace deletes, in one step as a restart of Redis without
// persistence would, every key of the test's: those under prefix and those
// of its asynq queues (asynq's keys cannot carry the prefix). The shared
// Redis is never flushed: other tests and a developer's data live there.
// On a cluster only the master serving key loses them, its own part.
func loseNamespace(ctx context.Context, rdb goredis.UniversalClient, key, prefix string, queues ...string) (int64, error) {
	patterns := []any{redistest.GlobEscape(prefix) + "*"}
	for _, q := range queues {
		patterns = append(patterns, redistest.GlobEscape("asynq:{"+q+"}:")+"*")
	}
	cluster, ok := rdb.(*goredis.ClusterClient)
	if !ok {
		return loseScript.Run(ctx, rdb, nil, patterns...).Int64()
	}
	master, err := cluster.MasterForKey(ctx, key)
	if err != nil {
		return 0, err
	}
	return loseScript.Run(ctx, master, nil, patterns...).Int64()
}

// loseScript deletes the keys matching each pattern in ARGV, atomically; on
// a cluster master, those of every slot it serves.
var loseScript = goredis.NewScript(`#!lua flags=allow-cross-slot-keys
local n = 0
for _, pattern in ipairs(ARGV) do
  local cursor = "0"
  repeat
    local page = redis.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      n = n + redis.call("DEL", key)
    end
  until cursor == "0"
end
return n`)

// check waits for the sale to settle and checks what it left.
func (c *chaos) check(bin string) {
	t, s := c.t, c.s
	s.waitLonger(2*time.Minute, "no booking is pending", func() bool {
		return s.count("SELECT count(*) FROM bookings WHERE status = 'pending'") == 0
	})
	// Every charge is settled once, as a confirmed booking or a refund,
	// and Redis agrees with Postgres (s.app's inventory check).
	s.checkInvariants()

	// No oversell, in Postgres (tickets that are not void) and in Redis.
	code, out := s.call("GET", "/v1/events/"+c.sale.eventID+"/availability", "", nil)
	if code != 200 {
		t.Fatalf("availability: %d %v", code, out)
	}
	capacity := map[string]int{c.sale.gaID: chaosGA, c.sale.seatedID: len(c.sale.seats)}
	for _, st := range out["ticketTypes"].([]any) {
		st := st.(map[string]any)
		id, _ := st["ticketTypeId"].(string)
		if st["sold"].(float64) > float64(capacity[id]) || st["held"] != float64(0) {
			t.Errorf("ticket type %s in Redis after the sale: %v", id, st)
		}
		if n := s.count("SELECT count(*) FROM tickets WHERE ticket_type_id = $1 AND status <> 'void'", id); n > capacity[id] {
			t.Errorf("ticket type %s: %d tickets sold of %d", id, n, capacity[id])
		}
	}
	if n := s.count("SELECT count(*) FROM (SELECT seat_id FROM tickets WHERE seat_id IS NOT NULL AND status <> 'void' GROUP BY seat_id HAVING count(*) > 1) x"); n != 0 {
		t.Errorf("%d seats sold twice", n)
	}
	// Every confirmed booking was paid, exactly once.
	if n := s.count(`SELECT count(*) FROM bookings b WHERE status = 'confirmed' AND
		(SELECT count(*) FROM payments p WHERE p.booking_id = b.id AND p.status = 'success' AND p.outcome = '') <> 1`); n != 0 {
		t.Errorf("%d confirmed bookings not settled by exactly one payment", n)
	}
	// Paid at once: confirmed. Paid late: confirmed if tickets were left,
	// else failed (and refunded, which checkInvariants checked). Walked
	// away: expired, its seats free.
	c.statuses("paid", c.paid, "confirmed")
	c.statuses("paid late", c.paidLate, "confirmed", "failed")
	c.statuses("walked away", c.walkedAway, "expired")
	if n := s.count("SELECT count(*) FROM bookings WHERE status = 'failed' AND failure_reason <> $1 AND id = ANY($2)",
		ticketing.CodeLatePaymentSoldOut, c.paidLate); n != 0 {
		t.Errorf("%d late payments failed for another reason than %s", n, ticketing.CodeLatePaymentSoldOut)
	}
	if n := s.count("SELECT count(*) FROM booking_seats s JOIN bookings b ON b.id = s.booking_id WHERE b.status <> 'confirmed' AND s.active"); n != 0 {
		t.Errorf("%d seats still taken by bookings that are not confirmed", n)
	}
	// Each expiry was done once: the workers' "expired bookings" lines
	// count no more than the bookings that expired (those still expired,
	// and those paid late after they expired). They may count fewer: a
	// worker killed between its sweep's commit and its log line.
	expired := s.count("SELECT count(*) FROM bookings WHERE status = 'expired'")
	expiredEver := expired + s.count("SELECT count(*) FROM bookings WHERE status <> 'expired' AND id = ANY($1)", c.paidLate)
	logged := 0
	for _, w := range c.workers {
		logged += w.expiredLogged(t)
	}
	if logged > expiredEver || expired < len(c.walkedAway) {
		t.Errorf("the workers logged %d expiries; %d bookings expired, %d of them were paid late since, %d walked away", logged, expiredEver, expiredEver-expired, len(c.walkedAway))
	}

	// The operator's check, with the binary: Redis and Postgres agree.
	report, err := c.command(bin, "inventory", "check", "--event", c.sale.eventID)
	if err != nil || !strings.Contains(report, "inventory: consistent") {
		t.Errorf("ticketd inventory check: %v\n%s", err, report)
	}

	// The processes not killed are still up.
	for _, p := range append(c.apis[1:], c.workers[1:]...) {
		if p.exited() {
			t.Errorf("%s exited during the sale", p.name)
		}
	}
	confirmed := s.count("SELECT count(*) FROM bookings WHERE status = 'confirmed'")
	t.Logf("%d bookings confirmed (%d GA tickets of %d, %d seats of %d), %d expired (%d logged), %d paid late (%d refunded), %d walked away",
		confirmed, s.count("SELECT count(*) FROM tickets WHERE ticket_type_id = $1", c.sale.gaID), chaosGA,
		s.count("SELECT count(*) FROM tickets WHERE ticket_type_id = $1", c.sale.seatedID), len(c.sale.seats),
		expired, logged, len(c.paidLate), s.count("SELECT count(*) FROM refunds"), len(c.walkedAway))
}

// statuses checks that each booking of a kind is in one of want.
func (c *chaos) statuses(kind string, ids []string, want ...string) {
	rows, err := c.s.db.Admin.Query(context.Background(), "SELECT id::text, status FROM bookings WHERE id = ANY($1) AND NOT (status = ANY($2))", ids, want)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			c.t.Fatal(err)
		}
		c.t.Errorf("booking %s (%s) is %s, want %s", id, kind, st, strings.Join(want, " or "))
	}
}

// command runs the binary with the stack's configuration, as an operator
// would, and returns its output.
func (c *chaos) command(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = processEnv(c.s.vars)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// buildTicketd builds the binary the processes run into the test's
// directory (the build cache makes it quick after the first time).
func buildTicketd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ticketd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// processEnv is the environment of a process with vars: nothing of the
// test's own (a developer's DATABASE_URL or SMTP_URL stays out).
func processEnv(vars map[string]string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// ticketdProcess is one process of the binary, killed when the test ends.
type ticketdProcess struct {
	name string
	addr string // its API's, or its metrics listener's
	log  string // the file of its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// start runs `ticketd <args>` with the stack's configuration and vars on
// top, on a free loopback port (in PORT or METRICS_ADDR, whichever vars
// names), and waits until its /readyz answers 200.
func (c *chaos) start(bin, name string, vars map[string]string, args ...string) *ticketdProcess {
	t := c.t
	t.Helper()
	m := maps.Clone(c.s.vars)
	maps.Copy(m, vars)
	m["BIND_ADDR"] = "127.0.0.1"
	p := &ticketdProcess{name: name, log: filepath.Join(t.TempDir(), name+".log"), done: make(chan struct{})}
	p.addr = freeAddr(t)
	if _, ok := vars["PORT"]; ok {
		m["PORT"] = p.addr[strings.LastIndex(p.addr, ":")+1:]
	} else {
		m["METRICS_ADDR"] = p.addr
	}
	log, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Env = processEnv(m)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	// Killed with the test binary, even by a -timeout's panic, which runs
	// no cleanup.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		cancel()
		log.Close()
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		log.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel() // kills it
		<-p.done
		if d := os.Getenv("TICKETD_CHAOS_LOGS"); d != "" {
			raw, _ := os.ReadFile(p.log)
			_ = os.WriteFile(filepath.Join(d, name+".log"), raw, 0o644)
		}
		if t.Failed() {
			t.Logf("the last lines of %s's log:\n%s", name, tail(p.log, 30))
		}
	})
	probes := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := probes.Get("http://" + p.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not become ready (exited: %v):\n%s", name, p.exited(), tail(p.log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill kills the process with SIGKILL and waits for it to exit.
func (p *ticketdProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *ticketdProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// expiredLogged sums the counts of the worker's "expired bookings" lines.
func (p *ticketdProcess) expiredLogged(t *testing.T) int {
	f, err := os.Open(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum := 0
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var line struct {
			Msg   string `json:"msg"`
			Count int    `json:"count"`
		}
		if json.Unmarshal(lines.Bytes(), &line) == nil && line.Msg == "expired bookings" {
			sum += line.Count
		}
	}
	return sum
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// chaosFront is the test's load balancer in front of the API processes:
// each request goes to the next API in turn, and an API that refuses the
// connection (a killed one) leaves the rotation, the request going to the
// next one (it never reached the dead one). A request broken in flight is
// a 502, for the client to send again.
type chaosFront struct {
	*httptest.Server
	transport *http.Transport

	mu   sync.Mutex
	apis []string
	turn int
}

func newChaosFront(t *testing.T) *chaosFront {
	f := &chaosFront{transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "api" },
		Transport: f,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "front: "+err.Error(), http.StatusBadGateway)
		},
	}
	f.Server = httptest.NewServer(proxy)
	t.Cleanup(func() {
		f.Close()
		f.transport.CloseIdleConnections()
	})
	return f
}

// add puts an API in the rotation.
func (f *chaosFront) add(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apis = append(f.apis, addr)
}

// RoundTrip sends r to the next API that accepts the connection.
func (f *chaosFront) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	for {
		addr, ok := f.next()
		if !ok {
			return nil, errors.New("no API accepts connections")
		}
		out := r.Clone(r.Context())
		out.URL.Host = addr
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		res, err := f.transport.RoundTrip(out)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			f.drop(addr)
			continue
		}
		return res, err
	}
}

func (f *chaosFront) next() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.apis) == 0 {
		return "", false
	}
	f.turn++
	return f.apis[f.turn%len(f.apis)], true
}

func (f *chaosFront) drop(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.apis {
		if a == addr {
			f.apis = append(f.apis[:i], f.apis[i+1:]...)
			return
		}
	}
}
