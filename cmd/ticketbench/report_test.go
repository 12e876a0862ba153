package main

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestStatsOfNearestRank(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[len(d)-1-i] = time.Duration(i+1) * time.Millisecond // 100 ms … 1 ms, unsorted
	}
	got := statsOf(d)
	want := latencyStats{Count: 100, P50: 50, P95: 95, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Fatalf("statsOf = %+v, want %+v", got, want)
	}
	if (statsOf(nil) != latencyStats{}) {
		t.Fatal("statsOf(nil) is not zero")
	}
}

func TestSummarizeCountsHoldsUntilTheLastSuccess(t *testing.T) {
	sl := &sale{seatBodies: make([][]byte, 2)}
	ms := time.Millisecond
	res := []attempt{
		{status: 201, seat: -1, latency: 2 * ms, done: 100 * ms},
		{status: 201, seat: 1, latency: 3 * ms, done: 400 * ms},
		{status: 201, seat: 1, latency: 3 * ms, done: 450 * ms},
		{status: 409, seat: -1, code: "SOLD_OUT", latency: ms, done: 900 * ms},
		{status: statusNoAnswer, seat: -1, code: "timeout", latency: 10 * ms, done: 1500 * ms},
		{status: statusDropped, seat: -1, done: 1600 * ms},
	}
	p := summarize("open", sl, res, 2*time.Second, 0)
	switch {
	case p.Successes != 3 || p.GAHeld != 1 || p.SeatsHeld != 2:
		t.Errorf("successes %d (GA %d, seats %d), want 3 (1, 2)", p.Successes, p.GAHeld, p.SeatsHeld)
	case math.Abs(p.HoldsPerSecond-3/0.45) > 1e-9:
		t.Errorf("holds/s %v, want 3 by 450 ms", p.HoldsPerSecond)
	case p.AttemptsPerSecond != 2.5 || p.Dropped != 1 || p.NoAnswer != 1:
		t.Errorf("attempts/s %v dropped %d no answer %d, want 2.5, 1, 1", p.AttemptsPerSecond, p.Dropped, p.NoAnswer)
	case p.DoublyHeldSeats != 1:
		t.Errorf("doubly held seats %d, want 1", p.DoublyHeldSeats)
	case p.Outcomes["409 SOLD_OUT"] != 1 || p.Outcomes["no answer: timeout"] != 1 || p.Outcomes["201 held"] != 3:
		t.Errorf("outcomes %v", p.Outcomes)
	case len(p.Timeline) != 2 || p.Timeline[0].Answers != 4 || p.Timeline[1].Answers != 1:
		t.Errorf("timeline %+v", p.Timeline)
	}
}

func TestPickSeatFreeSkipsTakenSeats(t *testing.T) {
	sl := &sale{seatBodies: make([][]byte, 5), taken: make([]atomic.Bool, 5)}
	for _, i := range []int{0, 1, 3, 4} {
		sl.taken[i].Store(true)
	}
	for range 50 {
		if got := sl.pickSeat(true); got != 2 {
			t.Fatalf("pickSeat(free) = %d, want the only free seat 2", got)
		}
	}
}

func TestErrorCode(t *testing.T) {
	for body, want := range map[string]string{
		`{"statusCode":409,"code":"SOLD_OUT","message":["x"],"requestId":"r"}`: "SOLD_OUT",
		`{"statusCode":500,"message":["x"]}`:                                   "(no error code)",
		`{"code":""}`:                                                          "(no error code)",
		`not json`:                                                             "(no error code)",
	} {
		if got := errorCode([]byte(body)); got != want {
			t.Errorf("errorCode(%s) = %q, want %q", body, got, want)
		}
	}
}
