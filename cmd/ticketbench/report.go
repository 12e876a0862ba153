package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The bar of issue 5, for a sale of 50,000 attempts for 5,000 GA places and
// 500 seats with server, Redis, Postgres and this tool on one 2-core machine.
const (
	barAttemptsPerSecond = 8000                  // closed loop, 256 connections, over the whole sale
	barHoldsPerSecond    = 1500                  // closed loop, while places remain
	barOpenP99           = 25 * time.Millisecond // open loop at 4,000 attempts/s
)

// latencyStats summarises latencies, in milliseconds.
type latencyStats struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Ms"`
	P95   float64 `json:"p95Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

func statsOf(d []time.Duration) latencyStats {
	if len(d) == 0 {
		return latencyStats{}
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	// nearest rank: the smallest latency at least q of the attempts had
	rank := func(q float64) float64 { return ms(d[max(0, int(math.Ceil(q*float64(len(d))))-1)]) }
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return latencyStats{Count: len(d), P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ms(d[len(d)-1]),
		Mean: ms(sum / time.Duration(len(d)))}
}

// stock is one ticket type's availability as the server reports it after a
// phase, next to the tickets the tool was told it holds.
type stock struct {
	TicketTypeID string `json:"ticketTypeId"`
	Name         string `json:"name"`
	Capacity     int    `json:"capacity"`
	Sold         int    `json:"sold"`
	Held         int    `json:"held"`
	Available    int    `json:"available"`
	ToolHeld     int    `json:"toolHeld"`
}

// bar is one line of the bar and whether this run met it.
type bar struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// phaseReport is what one phase measured and checked.
type phaseReport struct {
	Phase           string  `json:"phase"`
	Sale            *sale   `json:"sale"`
	Connections     int     `json:"connections,omitempty"`
	OfferedRate     float64 `json:"offeredRate,omitempty"`
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	MaxInFlight     int     `json:"maxInFlight,omitempty"`
	FirstReadMs     float64 `json:"firstAvailabilityReadMs"` // before the phase: loads the event into Redis

	Attempts          int     `json:"attempts"` // sent, answered or not, plus dropped
	Dropped           int     `json:"dropped"`
	NoAnswer          int     `json:"noAnswer"`
	ElapsedSeconds    float64 `json:"elapsedSeconds"`
	AttemptsPerSecond float64 `json:"attemptsPerSecond"` // sent attempts over the whole phase
	Successes         int     `json:"successes"`
	GAHeld            int     `json:"gaHeld"`
	SeatsHeld         int     `json:"seatsHeld"`
	SuccessSeconds    float64 `json:"successSeconds"` // from the start to the last success
	GALastSeconds     float64 `json:"gaLastSuccessSeconds"`
	GAHoldsPerSecond  float64 `json:"gaHoldsPerSecond"` // GA holds until the last of them
	SeatsLastSeconds  float64 `json:"seatsLastSuccessSeconds"`
	HoldsPerSecond    float64 `json:"holdsPerSecond"`

	Latency          latencyStats            `json:"latency"`
	LatencyByOutcome map[string]latencyStats `json:"latencyByOutcome"`
	Outcomes         map[string]int          `json:"outcomes"`
	Timeline         []second                `json:"timeline"` // by the second the answer came
	LoadGenCPU       float64                 `json:"loadGeneratorCpuSeconds"`
	// MachineCPU is the busy CPU time of the whole machine during the
	// phase: server, Postgres, Redis, load generator and kernel.
	MachineCPU float64 `json:"machineCpuSeconds"`
	// MachineSteal is the part of MachineCPU the hypervisor gave to others.
	MachineSteal float64 `json:"machineStealSeconds"`
	// GroupCommits, GroupCommitBookings and GroupCommitSeconds are what
	// ticketd's /metrics counted of its group commits during the phase: the
	// one writer's time per booking caps an instance's bookings per second.
	GroupCommits        int     `json:"groupCommits"`
	GroupCommitBookings int     `json:"groupCommitBookings"`
	GroupCommitSeconds  float64 `json:"groupCommitSeconds"`

	// Attack is what another organizer sent during an attacked phase, and
	// Share what the victim kept of the closed phase's throughput.
	Attack *attackReport `json:"attack,omitempty"`
	Share  *victimShare  `json:"victimShare,omitempty"`

	// BuyerLimit is what the event's per-buyer limit did, with
	// -max-per-buyer.
	BuyerLimit *buyerLimitReport `json:"buyerLimit,omitempty"`

	Stock           []stock  `json:"stock"`
	DoublyHeldSeats int      `json:"doublyHeldSeats"`
	Oversold        int      `json:"oversold"`
	InventoryCheck  string   `json:"inventoryCheck,omitempty"`
	Problems        []string `json:"problems"`
	InvariantsHold  bool     `json:"invariantsHold"`
	Bars            []bar    `json:"bars"`
}

// second is one second of a phase, by when answers came.
type second struct {
	Answers   int     `json:"answers"`
	Successes int     `json:"successes"`
	P50       float64 `json:"p50Ms"`
	P99       float64 `json:"p99Ms"`
	Max       float64 `json:"maxMs"`
}

// outcome names what an attempt got, for the counts.
func outcome(a attempt) string {
	switch a.status {
	case statusDropped:
		return "dropped (in-flight cap)"
	case statusNoAnswer:
		return "no answer: " + a.code
	case 201:
		return "201 held"
	}
	return fmt.Sprintf("%d %s", a.status, a.code)
}

func summarize(phase string, sl *sale, res []attempt, elapsed, cpu time.Duration) *phaseReport {
	p := &phaseReport{Phase: phase, Sale: sl, Attempts: len(res), ElapsedSeconds: elapsed.Seconds(),
		LoadGenCPU: cpu.Seconds(), Outcomes: map[string]int{}, LatencyByOutcome: map[string]latencyStats{}, Problems: []string{}}
	var all []time.Duration
	by := map[string][]time.Duration{}
	seatHolds := make([]int, len(sl.seatBodies))
	var lastSuccess time.Duration
	var perSecond [][]time.Duration
	var successes []int
	for _, a := range res {
		key := outcome(a)
		p.Outcomes[key]++
		switch a.status {
		case statusDropped:
			p.Dropped++
			continue
		case statusNoAnswer:
			p.NoAnswer++
		case 201:
			p.Successes++
			lastSuccess = max(lastSuccess, a.done)
			if a.seat < 0 {
				p.GAHeld++
				p.GALastSeconds = max(p.GALastSeconds, a.done.Seconds())
			} else {
				p.SeatsHeld++
				seatHolds[a.seat]++
				p.SeatsLastSeconds = max(p.SeatsLastSeconds, a.done.Seconds())
			}
		}
		all = append(all, a.latency)
		by[key] = append(by[key], a.latency)
		sec := int(a.done / time.Second)
		for len(perSecond) <= sec {
			perSecond = append(perSecond, nil)
			successes = append(successes, 0)
		}
		perSecond[sec] = append(perSecond[sec], a.latency)
		if a.status == 201 {
			successes[sec]++
		}
	}
	for i, d := range perSecond {
		st := statsOf(d)
		p.Timeline = append(p.Timeline, second{Answers: st.Count, Successes: successes[i], P50: st.P50, P99: st.P99, Max: st.Max})
	}
	for _, n := range seatHolds {
		p.DoublyHeldSeats += max(0, n-1)
	}
	p.AttemptsPerSecond = float64(len(all)) / elapsed.Seconds()
	p.SuccessSeconds = lastSuccess.Seconds()
	if lastSuccess > 0 {
		p.HoldsPerSecond = float64(p.Successes) / lastSuccess.Seconds()
	}
	if p.GALastSeconds > 0 {
		p.GAHoldsPerSecond = float64(p.GAHeld) / p.GALastSeconds
	}
	p.Latency = statsOf(all)
	for k, v := range by {
		p.LatencyByOutcome[k] = statsOf(v)
	}
	return p
}

func (p *phaseReport) problem(format string, args ...any) {
	p.Problems = append(p.Problems, fmt.Sprintf(format, args...))
}

// check verifies the invariants after a phase: for every ticket type sold +
// held + available = capacity and sold + held ≤ capacity (no oversell), what
// the server holds is what it answered 201 for, no seat was confirmed to two
// attempts; with a per-buyer limit, that no buyer got past it, by the tool's
// 201s and by the event's bookings in Postgres; and, given the ticketd
// binary, that Redis agrees with Postgres (per-buyer counters included).
func (p *phaseReport) check(ctx context.Context, s *setup, sl *sale, ticketd string) {
	var av struct {
		TicketTypes []stock `json:"ticketTypes"`
	}
	if err := s.c.call("GET", "/v1/events/"+sl.EventID+"/availability", s.admin, nil, &av, 200); err != nil {
		p.problem("reading availability: %v", err)
	}
	type expected struct {
		name           string
		capacity, tool int
	}
	want := map[string]expected{
		sl.GATypeID:     {"general admission", s.o.GACapacity, p.GAHeld},
		sl.SeatedTypeID: {"seated", s.o.Seats, p.SeatsHeld},
	}
	for _, st := range av.TicketTypes {
		w, ok := want[st.TicketTypeID]
		if !ok {
			p.problem("availability lists ticket type %s, which the tool did not create", st.TicketTypeID)
			continue
		}
		delete(want, st.TicketTypeID)
		st.Name, st.ToolHeld = w.name, w.tool
		p.Stock = append(p.Stock, st)
		if over := st.Sold + st.Held - st.Capacity; over > 0 {
			p.Oversold += over
			p.problem("%s: OVERSOLD by %d (sold %d + held %d > capacity %d)", w.name, over, st.Sold, st.Held, st.Capacity)
		}
		if st.Capacity != w.capacity {
			p.problem("%s: capacity %d, created with %d", w.name, st.Capacity, w.capacity)
		}
		if st.Sold+st.Held+st.Available != st.Capacity {
			p.problem("%s: sold %d + held %d + available %d != capacity %d", w.name, st.Sold, st.Held, st.Available, st.Capacity)
		}
		if st.Sold+st.Held != w.tool {
			p.problem("%s: the server holds %d (sold %d, held %d) but answered 201 for %d (%d attempts of the phase got no answer)",
				w.name, st.Sold+st.Held, st.Sold, st.Held, w.tool, p.NoAnswer)
		}
	}
	for _, w := range want {
		p.problem("%s: missing from the availability", w.name)
	}
	if p.DoublyHeldSeats > 0 {
		p.Oversold += p.DoublyHeldSeats
		p.problem("seated: %d seats were answered 201 more than once", p.DoublyHeldSeats)
	}
	if p.BuyerLimit != nil {
		p.checkBuyerLimit(s, sl)
	}
	if ticketd != "" {
		out, err := exec.CommandContext(ctx, ticketd, "inventory", "check", "--event", sl.EventID, "--tenant", s.slug).CombinedOutput()
		p.InventoryCheck = strings.TrimSpace(string(out))
		if err != nil {
			p.problem("ticketd inventory check: %v", err)
		}
	}
	p.InvariantsHold = len(p.Problems) == 0
	p.setBars()
}

func (p *phaseReport) setBars() {
	switch p.Phase {
	case "attacked":
		// Judged by the victim's share (victimShare), not the issue 5 bars.
	case "closed":
		p.Bars = append(p.Bars,
			bar{"attempts/s over the whole sale", fmt.Sprintf("≥ %d", barAttemptsPerSecond), fmt.Sprintf("%.0f", p.AttemptsPerSecond), p.AttemptsPerSecond >= barAttemptsPerSecond},
			bar{"successful holds/s while places remain", fmt.Sprintf("≥ %d", barHoldsPerSecond), fmt.Sprintf("%.0f", p.HoldsPerSecond), p.HoldsPerSecond >= barHoldsPerSecond})
	default:
		got := fmt.Sprintf("%.1f ms at %.0f/s offered", p.Latency.P99, p.OfferedRate)
		if p.Dropped+p.NoAnswer > 0 {
			got += fmt.Sprintf(", %d dropped, %d unanswered", p.Dropped, p.NoAnswer)
		}
		met := p.Latency.P99 < float64(barOpenP99)/float64(time.Millisecond) && p.Dropped+p.NoAnswer == 0
		p.Bars = append(p.Bars, bar{"p99 latency, open loop", fmt.Sprintf("< %v", barOpenP99), got, met})
	}
	p.Bars = append(p.Bars, bar{"oversell", "0", fmt.Sprint(p.Oversold), p.Oversold == 0 && len(p.Stock) == 2})
	if p.BuyerLimit != nil {
		p.Bars = append(p.Bars, p.BuyerLimit.bar())
	}
}

func (p *phaseReport) print(w io.Writer) {
	metWord := map[bool]string{true: "met", false: "NOT MET"}
	switch p.Phase {
	case "closed":
		fmt.Fprintf(w, "\n== closed loop: %d attempts from %d connections, event %s\n", p.Attempts, p.Connections, p.Sale.EventID)
	case "attacked":
		fmt.Fprintf(w, "\n== attacked: closed loop, %d attempts from %d connections, event %s, while another organizer sends %s traffic\n",
			p.Attempts, p.Connections, p.Sale.EventID, p.Attack.Kind)
	default:
		fmt.Fprintf(w, "\n== open loop: %.0f attempts/s offered for %g s (in flight ≤ %d), event %s\n", p.OfferedRate, p.DurationSeconds, p.MaxInFlight, p.Sale.EventID)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "whole sale\t%d attempts answered or failed in %.2f s = %.0f attempts/s", p.Attempts-p.Dropped, p.ElapsedSeconds, p.AttemptsPerSecond)
	if p.Dropped > 0 {
		fmt.Fprintf(tw, " (%d dropped)", p.Dropped)
	}
	fmt.Fprintf(tw, "\nwhile places remain\t%d holds by %.2f s = %.0f holds/s\n", p.Successes, p.SuccessSeconds, p.HoldsPerSecond)
	fmt.Fprintf(tw, "  of which GA\t%d holds by %.2f s = %.0f holds/s\n", p.GAHeld, p.GALastSeconds, p.GAHoldsPerSecond)
	fmt.Fprintf(tw, "  of which seats\t%d holds, the last at %.2f s\n", p.SeatsHeld, p.SeatsLastSeconds)
	fmt.Fprintf(tw, "load generator CPU\t%.1f s (%.2f cores)\n", p.LoadGenCPU, p.LoadGenCPU/p.ElapsedSeconds)
	if p.MachineCPU > 0 {
		fmt.Fprintf(tw, "machine CPU busy\t%.1f s (%.2f of %d cores), of which stolen by the hypervisor %.1f s\n",
			p.MachineCPU, p.MachineCPU/p.ElapsedSeconds, runtime.NumCPU(), p.MachineSteal)
	}
	if p.GroupCommits > 0 && p.SuccessSeconds > 0 {
		fmt.Fprintf(tw, "group commits\t%d of %.1f bookings on average, %.0f µs per booking; the writer was busy %.0f%% of the %.2f s while places remained\n",
			p.GroupCommits, float64(p.GroupCommitBookings)/float64(p.GroupCommits),
			p.GroupCommitSeconds*1e6/float64(p.GroupCommitBookings), 100*p.GroupCommitSeconds/p.SuccessSeconds, p.SuccessSeconds)
	}
	fmt.Fprintf(tw, "before the phase\tfirst availability read (loads Redis) %.1f ms\n", p.FirstReadMs)
	fmt.Fprintln(tw, "\nlatency ms\tcount\tp50\tp95\tp99\tmax\tmean")
	printStats := func(name string, l latencyStats) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", name, l.Count, l.P50, l.P95, l.P99, l.Max, l.Mean)
	}
	printStats("all", p.Latency)
	for _, k := range slices.Sorted(maps.Keys(p.LatencyByOutcome)) {
		printStats("  "+k, p.LatencyByOutcome[k])
	}
	fmt.Fprintln(tw, "\nsecond\tanswers\tholds\tp50\tp99\tmax")
	for i, sec := range p.Timeline {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%.2f\t%.2f\n", i, sec.Answers, sec.Successes, sec.P50, sec.P99, sec.Max)
	}
	fmt.Fprintln(tw, "\noutcome\tcount")
	for _, k := range slices.Sorted(maps.Keys(p.Outcomes)) {
		fmt.Fprintf(tw, "%s\t%d\n", k, p.Outcomes[k])
	}
	fmt.Fprintln(tw, "\nticket type\tcapacity\tsold\theld\tavailable\ttool got 201")
	for _, st := range p.Stock {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", st.Name, st.Capacity, st.Sold, st.Held, st.Available, st.ToolHeld)
	}
	_ = tw.Flush()
	if p.BuyerLimit != nil {
		p.BuyerLimit.print(w)
	}
	if p.Attack != nil {
		p.Attack.print(w)
	}
	if p.InventoryCheck != "" {
		fmt.Fprintln(w, "\nticketd inventory check:")
		for _, line := range strings.Split(p.InventoryCheck, "\n") {
			fmt.Fprintln(w, "  "+line)
		}
	}
	if p.InvariantsHold && p.BuyerLimit != nil {
		fmt.Fprintf(w, "\ninvariants: hold (sold+held+available = capacity, no oversell, server holds = tool's 201s, no seat twice, no buyer over %d)\n", p.BuyerLimit.Max)
	} else if p.InvariantsHold {
		fmt.Fprintln(w, "\ninvariants: hold (sold+held+available = capacity, no oversell, server holds = tool's 201s, no seat twice)")
	} else {
		fmt.Fprintln(w, "\ninvariants: FAIL")
		for _, pr := range p.Problems {
			fmt.Fprintln(w, "  - "+pr)
		}
	}
	fmt.Fprintln(tw, "\nbar\twant\tgot\t")
	for _, b := range p.Bars {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.Name, b.Want, b.Got, metWord[b.Met])
	}
	_ = tw.Flush()
}
