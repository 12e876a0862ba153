package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The attacked phase (-phases ...,attacked) is the closed loop of a fresh
// sale while another organizer's buyers send traffic of -attack kind over
// -attack-c connections: what one tenant can take from another on a shared
// instance. Its report states the share of the closed phase's throughput
// the victim kept.
const barVictimShare = 0.80

// Attack kinds.
const (
	// attackReuse: every request reuses an Idempotency-Key with another
	// request, which fails in the insert (the key exists) after the hold.
	attackReuse = "reuse"
	// attackSale: the other organizer runs an on-sale of its own, with a
	// unique key on every request: heavy, well-formed traffic.
	attackSale = "sale"
)

// attacker is the other organizer, its sale and the bodies it sends.
type attacker struct {
	s     *setup
	sl    *sale
	kind  string
	conns int
	// reuse: per buyer, the key of a booking it made, and the body that
	// reuses it with another quantity.
	reuseKeys [][]byte
	reuseBody []byte
}

// attackReport is what the attacker sent and got during the phase.
type attackReport struct {
	Kind              string         `json:"kind"`
	Connections       int            `json:"connections"`
	Requests          int            `json:"requests"`
	RequestsPerSecond float64        `json:"requestsPerSecond"`
	Latency           latencyStats   `json:"latency"`
	Outcomes          map[string]int `json:"outcomes"`
}

// newAttacker provisions the other organizer: a few buyers and a GA-only
// sale with room for every request the attack sends.
func newAttacker(ctx context.Context, o options) (*attacker, error) {
	c, err := newClient(o.URL, o.AttackConnections, o.Timeout)
	if err != nil {
		return nil, err
	}
	ao := o
	ao.Buyers, ao.Seats, ao.GACapacity = min(o.Buyers, 16), 1, o.AttackGA
	ao.MaxPerBuyer = 0 // its few buyers send the whole attack
	s, err := provision(ctx, c, ao)
	if err != nil {
		return nil, fmt.Errorf("the attacker: %w", err)
	}
	sl, err := s.newSale("attacker")
	if err != nil {
		return nil, fmt.Errorf("the attacker: %w", err)
	}
	if err := c.call("GET", "/v1/events/"+sl.EventID+"/availability", "", nil, nil, 200); err != nil {
		return nil, err
	}
	a := &attacker{s: s, sl: sl, kind: o.Attack, conns: o.AttackConnections}
	if a.kind == attackReuse {
		a.reuseBody = fmt.Appendf(nil, `{"eventId":%q,"items":[{"ticketTypeId":%q,"quantity":2}]}`, sl.EventID, sl.GATypeID)
		for i, bearer := range s.buyers {
			key := fmt.Appendf(nil, "%sreused-%d", s.keyPrefix, i)
			if status, code := c.book(sl.uri, bearer, sl.gaBody, key); status != 201 {
				return nil, fmt.Errorf("the attacker's first booking: %d %s", status, code)
			}
			a.reuseKeys = append(a.reuseKeys, key)
		}
	}
	return a, nil
}

// run sends the attack from its connections until stop is closed.
func (a *attacker) run(stop <-chan struct{}) *attackReport {
	var mu sync.Mutex
	outcomes := map[string]int{}
	var latencies []time.Duration
	var sent atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range a.conns {
		wg.Go(func() {
			local := map[string]int{}
			var lat []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					for k, v := range local {
						outcomes[k] += v
					}
					latencies = append(latencies, lat...)
					mu.Unlock()
					return
				default:
				}
				i := rand.IntN(len(a.s.buyers))
				body, key := a.sl.gaBody, a.s.nextKey()
				if a.kind == attackReuse {
					body, key = a.reuseBody, a.reuseKeys[i]
				}
				t := time.Now()
				status, code := a.s.c.book(a.sl.uri, a.s.buyers[i], body, key)
				lat = append(lat, time.Since(t))
				local[outcome(attempt{status: status, code: code})]++
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return &attackReport{Kind: a.kind, Connections: a.conns, Requests: int(sent.Load()),
		RequestsPerSecond: float64(sent.Load()) / elapsed.Seconds(), Latency: statsOf(latencies), Outcomes: outcomes}
}

func (r *attackReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nattack by another organizer: %s over %d connections, %d requests = %.0f/s, p50 %.2f ms, p99 %.2f ms\n",
		r.Kind, r.Connections, r.Requests, r.RequestsPerSecond, r.Latency.P50, r.Latency.P99)
	for _, k := range slices.Sorted(maps.Keys(r.Outcomes)) {
		fmt.Fprintf(w, "  %s\t%d\n", k, r.Outcomes[k])
	}
}

// victimShare compares the attacked phase with the closed one: the share of
// its attempts/s and holds/s the victim kept, and its p50 before and after.
type victimShare struct {
	Attempts float64 `json:"attemptsShare"`
	Holds    float64 `json:"holdsShare"`
	P50Solo  float64 `json:"p50SoloMs"`
	P50      float64 `json:"p50AttackedMs"`
}

func shareOf(solo, attacked *phaseReport) *victimShare {
	if solo.AttemptsPerSecond == 0 || solo.HoldsPerSecond == 0 {
		return nil
	}
	return &victimShare{Attempts: attacked.AttemptsPerSecond / solo.AttemptsPerSecond, Holds: attacked.HoldsPerSecond / solo.HoldsPerSecond,
		P50Solo: solo.Latency.P50, P50: attacked.Latency.P50}
}

func (v *victimShare) bar() bar {
	return bar{"victim's share of its solo attempts/s", fmt.Sprintf("≥ %.0f%%", 100*barVictimShare),
		fmt.Sprintf("%.0f%% (holds/s %.0f%%, p50 %.2f → %.2f ms)", 100*v.Attempts, 100*v.Holds, v.P50Solo, v.P50), v.Attempts >= barVictimShare}
}
