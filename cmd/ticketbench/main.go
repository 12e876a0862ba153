// Command ticketbench is the flash-sale load generator of ticketd (issue 5).
//
// Against a running `ticketd serve` it provisions a fresh organizer through
// the platform API, signs up buyers, and runs two phases, each on a fresh
// event with one general-admission and one seated ticket type:
//
//   - closed loop: a fixed number of connections fire a fixed number of
//     booking attempts as fast as the server answers;
//   - open loop: attempts are sent at a constant rate by the wall clock,
//     whether or not earlier ones were answered, and latency is measured from
//     each attempt's scheduled send time, so a slow server cannot hide behind
//     a waiting load generator.
//
// After each phase it checks the invariants (no oversell, what the server
// holds is what the tool was told it got) and, with -ticketd, runs
// `ticketd inventory check`. `make bench` runs it against a throwaway
// database; see docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the flags of ticketbench.
type options struct {
	URL               string
	Metrics           string
	APIKey            string
	Buyers            int
	SignupConcurrency int
	GACapacity        int
	Seats             int
	SeatShare         float64
	SeatPick          string
	MaxPerBuyer       int
	Keyed             bool
	Attack            string
	AttackConnections int
	AttackGA          int
	Connections       int
	Attempts          int
	Rate              float64
	Duration          time.Duration
	MaxInFlight       int
	Timeout           time.Duration
	Phases            string
	Ticketd           string
	JSON              string
	Pprof             string
	PprofSeconds      float64
	PprofDir          string
	CPUProfile        string
	// Tenants other organizers to resolve before the phases (tenants.go).
	Tenants int
	// The seatmap phase (seatmap.go).
	SeatMapRequests, SeatMapConnections, SeatMapSellers int
}

func main() {
	if os.Getenv("GOGC") == "" {
		// The tool's own collector pauses would count as server latency.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ticketbench:", err)
		os.Exit(1)
	}
}

// errInvariant makes the process exit non-zero after printing the report.
var errInvariant = errors.New("an invariant does not hold (see the report)")

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("ticketbench", flag.ContinueOnError)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of ticketd (http only)")
	fs.StringVar(&o.Metrics, "metrics", "", "base URL of ticketd's /metrics when it runs with METRICS_ADDR, e.g. http://127.0.0.1:9090 (default: -url)")
	fs.StringVar(&o.APIKey, "api-key", os.Getenv("PLATFORM_API_KEY"), "platform API key (default $PLATFORM_API_KEY)")
	fs.IntVar(&o.Buyers, "buyers", 256, "buyers to sign up; each attempt uses a random one's token")
	fs.IntVar(&o.SignupConcurrency, "signup-concurrency", 4, "concurrent signups (each hashes a password on the server)")
	fs.IntVar(&o.GACapacity, "ga", 5000, "capacity of the general-admission ticket type")
	fs.IntVar(&o.Seats, "seats", 500, "seats of the seated ticket type")
	fs.Float64Var(&o.SeatShare, "seat-share", 0.1, "share of attempts that book one seat (the rest book one GA ticket)")
	fs.StringVar(&o.SeatPick, "seat-pick", "random", "how a seated attempt picks its seat: random (any seat of the section) or free (a random one not yet answered 201 or SEAT_UNAVAILABLE, as a buyer looking at the seat map would)")
	fs.IntVar(&o.MaxPerBuyer, "max-per-buyer", 0, "create every phase's event with maxTicketsPerBuyer N (0: no limit) and check after each phase that no buyer got more than N tickets, by the tool's 201s and by the event's bookings in Postgres (GET /v1/bookings)")
	fs.BoolVar(&o.Keyed, "keyed", false, "send every booking attempt with its own Idempotency-Key, as a well-behaved client does")
	fs.IntVar(&o.Connections, "c", 256, "closed loop: concurrent connections")
	fs.IntVar(&o.Attempts, "n", 50000, "closed loop: booking attempts in total")
	fs.Float64Var(&o.Rate, "rate", 4000, "open loop: offered attempts per second")
	fs.DurationVar(&o.Duration, "duration", 0, "open loop: how long to offer the rate (default: the sale's -n attempts at -rate, 12.5s for 50,000 at 4,000/s)")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", 2048, "open loop: attempts in flight at most; a send due beyond it is dropped and counted")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one request")
	fs.StringVar(&o.Phases, "phases", "closed,open", "phases to run, comma-separated: closed, open, seatmap (GET of the seat map, see -seatmap-*), attacked (the closed loop while another organizer sends -attack traffic)")
	fs.StringVar(&o.Attack, "attack", attackReuse, "attacked phase: what the other organizer sends: reuse (an Idempotency-Key reused with another request, failing in the insert) or sale (an on-sale of its own)")
	fs.IntVar(&o.AttackConnections, "attack-c", 64, "attacked phase: the other organizer's connections")
	fs.IntVar(&o.AttackGA, "attack-ga", 20000, "attacked phase: capacity of the other organizer's sale")
	fs.IntVar(&o.SeatMapRequests, "seatmap-n", 64, "seatmap phase: requests per round")
	fs.IntVar(&o.SeatMapConnections, "seatmap-c", 16, "seatmap phase: concurrent connections")
	fs.IntVar(&o.SeatMapSellers, "seatmap-sellers", 4, "seatmap phase: buyers booking seats one after another during the selling round")
	fs.IntVar(&o.Tenants, "tenants", 0, "before the phases, resolve this many other organizers once each (bulk-00001 …, provisioned by deploy/bench.sh with BENCH_TENANTS), so that ticketd's tenant cache holds them during the phases; reports ticketd's heap before and after")
	fs.StringVar(&o.Ticketd, "ticketd", "", "path of the ticketd binary: run `ticketd inventory check` after each phase (with this process's environment)")
	fs.StringVar(&o.JSON, "json", "", "also write the report as JSON to this file (- for stdout)")
	fs.StringVar(&o.Pprof, "pprof", "", "base URL of ticketd's pprof server (its PPROF_ADDR, e.g. http://127.0.0.1:6061): take a CPU profile and an execution trace of the first -pprof-seconds of each phase")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of ticketbench itself (the phases, not provisioning) to this file")
	fs.Float64Var(&o.PprofSeconds, "pprof-seconds", 2, "with -pprof: how many seconds of each phase to profile")
	fs.StringVar(&o.PprofDir, "pprof-dir", ".", "with -pprof: directory of the files <phase>.cpu.pprof and <phase>.trace")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	c, err := newClient(o.URL, max(o.Connections, o.MaxInFlight), o.Timeout)
	if err != nil {
		return fmt.Errorf("-url %w", err)
	}
	metrics := c
	if o.Metrics != "" {
		if metrics, err = newClient(o.Metrics, 1, o.Timeout); err != nil {
			return fmt.Errorf("-metrics %w", err)
		}
	}
	rep := report{
		Started: time.Now().UTC(), URL: o.URL, GOOS: runtime.GOOS, NumCPU: runtime.NumCPU(),
		GoVersion: runtime.Version(), Flags: map[string]string{},
	}
	fs.VisitAll(func(f *flag.Flag) {
		// -max-per-buyer and -tenants are listed only when set, so that a
		// run without them writes the same report as before they existed.
		optional := f.Name == "max-per-buyer" || f.Name == "tenants"
		if f.Name != "api-key" && (!optional || f.Value.String() != f.DefValue) {
			rep.Flags[f.Name] = f.Value.String()
		}
	})
	t0 := time.Now()
	s, err := provision(ctx, c, o)
	if err != nil {
		return err
	}
	rep.Tenant = s.slug
	rep.ProvisionSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(stdout, "ticketbench: organizer %s, %d buyers signed up in %.1f s\n", s.slug, len(s.buyers), rep.ProvisionSeconds)
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.Tenants > 0 {
		if rep.OtherTenants, err = resolveTenants(ctx, o, metrics, stdout); err != nil {
			return err
		}
	}
	var attack *attacker
	if slices.Contains(strings.Split(o.Phases, ","), "attacked") {
		if attack, err = newAttacker(ctx, o); err != nil {
			return err
		}
	}
	var solo *phaseReport
	for _, phase := range strings.Split(o.Phases, ",") {
		sale, err := s.newSale(phase)
		if err != nil {
			return err
		}
		// Buyers read the event before an on-sale, which loads its
		// inventory into Redis: the phase measures selling, not that load.
		t := time.Now()
		if err := c.call("GET", "/v1/events/"+sale.EventID+"/availability", "", nil, nil, 200); err != nil {
			return err
		}
		firstRead := time.Since(t)
		if phase == "seatmap" {
			rep.SeatMap = seatMapPhase(ctx, s, sale)
			rep.SeatMap.print(stdout)
			continue
		}
		warm(c, max(o.Connections, min(o.MaxInFlight, 256)))
		profiled := profile(o, phase, stdout)
		commits0, commitsOK := metrics.groupCommits()
		var p *phaseReport
		switch phase {
		case "closed":
			p = closedLoop(ctx, s, sale, o.Attempts, o.Connections)
			solo = p
		case "attacked":
			stop := make(chan struct{})
			done := make(chan *attackReport, 1)
			go func() { done <- attack.run(stop) }()
			p = closedLoop(ctx, s, sale, o.Attempts, o.Connections)
			close(stop)
			p.Phase, p.Attack = phase, <-done
		default:
			p = openLoop(ctx, s, sale, o.Rate, o.openDuration(), o.MaxInFlight)
		}
		if commits1, ok := metrics.groupCommits(); ok && commitsOK {
			p.GroupCommits = int(commits1.commits - commits0.commits)
			p.GroupCommitBookings = int(commits1.bookings - commits0.bookings)
			p.GroupCommitSeconds = commits1.seconds - commits0.seconds
		}
		p.FirstReadMs = float64(firstRead) / float64(time.Millisecond)
		profiled()
		p.check(ctx, s, sale, o.Ticketd)
		if p.Attack != nil && solo != nil {
			if p.Share = shareOf(solo, p); p.Share != nil {
				p.Bars = append(p.Bars, p.Share.bar())
			}
		}
		p.print(stdout)
		rep.Phases = append(rep.Phases, p)
		if ctx.Err() != nil {
			break
		}
	}
	if o.JSON != "" {
		if err := rep.writeJSON(o.JSON, stdout); err != nil {
			return err
		}
	}
	for _, p := range rep.Phases {
		if !p.InvariantsHold {
			return errInvariant
		}
	}
	return ctx.Err()
}

func (o options) validate() error {
	var bad []string
	if len(o.APIKey) < 16 {
		bad = append(bad, "-api-key (or PLATFORM_API_KEY) must be the platform API key")
	}
	if o.Buyers < 1 || o.SignupConcurrency < 1 || o.Connections < 1 || o.MaxInFlight < 1 {
		bad = append(bad, "-buyers, -signup-concurrency, -c and -max-in-flight must be positive")
	}
	if o.GACapacity < 1 || o.Seats < 1 || o.Seats > 50000 {
		bad = append(bad, "-ga must be positive and -seats between 1 and 50000")
	}
	if o.SeatShare < 0 || o.SeatShare > 1 {
		bad = append(bad, "-seat-share must be between 0 and 1")
	}
	if o.MaxPerBuyer < 0 || o.MaxPerBuyer > maxBuyerLimit {
		bad = append(bad, fmt.Sprintf("-max-per-buyer must be between 0 (no limit) and %d", maxBuyerLimit))
	}
	if o.SeatPick != "random" && o.SeatPick != "free" {
		bad = append(bad, "-seat-pick must be random or free")
	}
	if o.SeatMapRequests < 1 || o.SeatMapConnections < 1 || o.SeatMapSellers < 0 {
		bad = append(bad, "-seatmap-n and -seatmap-c must be positive, -seatmap-sellers not negative")
	}
	if o.Attack != attackReuse && o.Attack != attackSale || o.AttackConnections < 1 || o.AttackGA < 1 {
		bad = append(bad, "-attack must be reuse or sale, -attack-c and -attack-ga positive")
	}
	if o.Tenants < 0 || o.Tenants > 99999 {
		bad = append(bad, "-tenants must be between 0 and 99999")
	}
	if o.PprofSeconds <= 0 {
		bad = append(bad, "-pprof-seconds must be positive")
	}
	if o.Attempts < 1 || o.Rate <= 0 || o.Duration < 0 || o.Timeout <= 0 {
		bad = append(bad, "-n, -rate and -timeout must be positive, -duration not negative")
	}
	for _, p := range strings.Split(o.Phases, ",") {
		if p != "closed" && p != "open" && p != "seatmap" && p != "attacked" {
			bad = append(bad, "-phases must list closed, open, seatmap and/or attacked")
			break
		}
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// openDuration is how long the open loop offers its rate: -duration, or by
// default as long as the sale's -n attempts take at -rate, so that both
// phases sell the same sale.
func (o options) openDuration() time.Duration {
	if o.Duration > 0 {
		return o.Duration
	}
	return time.Duration(float64(o.Attempts) / o.Rate * float64(time.Second))
}

// report is everything one run measured, as written by -json.
type report struct {
	Started          time.Time         `json:"started"`
	URL              string            `json:"url"`
	GOOS             string            `json:"goos"`
	NumCPU           int               `json:"numCPU"`
	GoVersion        string            `json:"goVersion"`
	Flags            map[string]string `json:"flags"` // every flag but the API key
	Tenant           string            `json:"tenant"`
	ProvisionSeconds float64           `json:"provisionSeconds"`
	OtherTenants     *tenantsReport    `json:"otherTenants,omitempty"`
	Phases           []*phaseReport    `json:"phases"`
	SeatMap          *seatMapReport    `json:"seatMap,omitempty"`
}

func (r *report) writeJSON(path string, stdout io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
