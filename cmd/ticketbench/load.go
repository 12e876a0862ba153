package main

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// attempt is what happened to one booking attempt.
type attempt struct {
	latency time.Duration // from the send (open loop: the scheduled send) to the answer
	done    time.Duration // when the answer came, since the phase began
	status  int           // HTTP status; statusNoAnswer or statusDropped
	seat    int           // index of the seat asked for, or -1 for one GA ticket
	buyer   int           // index of the buyer whose token it was sent with
	code    string        // error code of a refusal, or why no answer came
}

const (
	statusNoAnswer = 0  // the request failed or timed out
	statusDropped  = -1 // open loop: not sent, the in-flight cap was reached
)

// fire sends one attempt of a random buyer: one GA ticket, or with
// probability seatShare one seat.
func (s *setup) fire(sl *sale) attempt {
	a := attempt{seat: -1}
	body := sl.gaBody
	if s.o.SeatShare > 0 && rand.Float64() < s.o.SeatShare {
		a.seat = sl.pickSeat(s.o.SeatPick == "free")
		body = sl.seatBodies[a.seat]
	}
	var key []byte
	if s.o.Keyed {
		key = s.nextKey()
	}
	a.buyer = rand.IntN(len(s.buyers))
	a.status, a.code = s.c.book(sl.uri, s.buyers[a.buyer], body, key)
	if a.seat >= 0 && (a.status == 201 || a.code == "SEAT_UNAVAILABLE") {
		sl.taken[a.seat].Store(true)
	}
	return a
}

// nextKey returns a new Idempotency-Key: the run's random prefix and a
// counter, unique across runs against the same organizer and buyers.
func (s *setup) nextKey() []byte {
	return strconv.AppendUint([]byte(s.keyPrefix), s.keys.Add(1), 10)
}

// pickSeat returns a random seat, or with free the first seat from a random
// one on that the tool has not seen taken (any, once all are). Buyers with a
// seat map choose among free seats; picking blindly instead makes the last
// seats sell at the pace of a coupon collector, not of the server.
func (sl *sale) pickSeat(free bool) int {
	r := rand.IntN(len(sl.seatBodies))
	if !free {
		return r
	}
	for k := range len(sl.taken) {
		if j := (r + k) % len(sl.taken); !sl.taken[j].Load() {
			return j
		}
	}
	return r
}

// closedLoop fires n attempts from conns goroutines, each sending its next
// attempt when the previous one is answered: the classic flash-sale crowd
// that clicks again as soon as the page answers.
func closedLoop(ctx context.Context, s *setup, sl *sale, n, conns int) *phaseReport {
	res := make([]attempt, n)
	cpu0, busy0, steal0 := cpuTime(), machineBusy(), machineSteal()
	start := time.Now()
	sent := closedLoopOf(ctx, n, conns, func(i int) {
		t := time.Now()
		a := s.fire(sl)
		a.done = time.Since(start)
		a.latency = time.Since(t)
		res[i] = a
	})
	elapsed := time.Since(start)
	p := summarize("closed", sl, res[:sent], elapsed, cpuTime()-cpu0)
	p.MachineCPU, p.MachineSteal = (machineBusy() - busy0).Seconds(), (machineSteal() - steal0).Seconds()
	p.Connections = conns
	p.BuyerLimit = buyerLimitOf(res[:sent], s.o.MaxPerBuyer, len(s.buyers))
	return p
}

// closedLoopOf calls do(i) for i in [0, n) from conns goroutines, each
// taking the next i when its call returns, until all are done or ctx is;
// it returns how many were called.
func closedLoopOf(ctx context.Context, n, conns int, do func(i int)) int {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				do(i)
			}
		})
	}
	wg.Wait()
	return min(int(next.Load()), n)
}

// openLoop offers rate attempts per second for d, by the wall clock: attempt
// i is due at i/rate after the start and is sent then (or as soon after as
// the sending goroutine runs) without waiting for earlier answers. Its
// latency counts from when it was due, so time spent queued anywhere, in the
// server or in this process, is measured. An attempt due while maxInFlight
// are unanswered is dropped and counted.
func openLoop(ctx context.Context, s *setup, sl *sale, rate float64, d time.Duration, maxInFlight int) *phaseReport {
	total := int(rate * d.Seconds())
	res := make([]attempt, total)
	due := func(i int) time.Duration { return time.Duration(float64(i) / rate * float64(time.Second)) }
	// maxInFlight senders wait for due attempts: starting a goroutine per
	// attempt would cost the load generator CPU that the server needs.
	type job struct {
		idx int
		at  time.Duration
	}
	jobs := make(chan job, maxInFlight)
	var inFlight atomic.Int64
	cpu0, busy0, steal0 := cpuTime(), machineBusy(), machineSteal()
	start := time.Now()
	var wg sync.WaitGroup
	for range maxInFlight {
		wg.Go(func() {
			for j := range jobs {
				a := s.fire(sl)
				a.done = time.Since(start)
				a.latency = a.done - j.at
				res[j.idx] = a
				inFlight.Add(-1)
			}
		})
	}
	i := 0
	for i < total && ctx.Err() == nil {
		for n := min(total, int(time.Since(start).Seconds()*rate)+1); i < n; i++ {
			at := due(i)
			if inFlight.Add(1) > int64(maxInFlight) {
				inFlight.Add(-1)
				res[i] = attempt{status: statusDropped, seat: -1, done: at}
				continue
			}
			jobs <- job{idx: i, at: at}
		}
		time.Sleep(time.Until(start.Add(due(i))))
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	p := summarize("open", sl, res[:i], elapsed, cpuTime()-cpu0)
	p.MachineCPU, p.MachineSteal = (machineBusy() - busy0).Seconds(), (machineSteal() - steal0).Seconds()
	p.OfferedRate, p.DurationSeconds, p.MaxInFlight = rate, d.Seconds(), maxInFlight
	p.BuyerLimit = buyerLimitOf(res[:i], s.o.MaxPerBuyer, len(s.buyers))
	return p
}

// cpuTime is the CPU time this process has used, user and system: the load
// generator shares the machine with what it measures.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time the whole machine has spent busy (every
// process and the kernel, interrupts included), from /proc/stat; 0 where
// there is none. The load generator, the server, Postgres and Redis share
// the machine, and what a booking costs them all together is what limits
// the sale.
func machineBusy() time.Duration {
	busy, _ := machineCPU()
	return busy
}

// machineSteal is the time the hypervisor ran something else while this
// machine wanted the CPU (part of machineBusy): other tenants of the host
// slow every process here, and the latencies measured with them.
func machineSteal() time.Duration {
	_, steal := machineCPU()
	return steal
}

func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var ticks int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 7: // steal
			ticks += n
			steal = time.Duration(n) * time.Second / 100
		default:
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / 100, steal // USER_HZ
}
