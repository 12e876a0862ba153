package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The seatmap phase measures GET /v1/events/{id}/seats, which every buyer's
// browser asks for and a large event answers with megabytes: -seatmap-n
// anonymous requests from -seatmap-c connections per round, in four rounds:
// plain (no Accept-Encoding), gzip, revalidate (gzip with the If-None-Match
// of the map just read) and selling (gzip, while -seatmap-sellers buyers book
// one seat after another, so that the map keeps changing).

// seatMapRound is one round of the seatmap phase.
type seatMapRound struct {
	Name              string       `json:"name"`
	Requests          int          `json:"requests"`
	Connections       int          `json:"connections"`
	Seconds           float64      `json:"seconds"`
	RequestsPerSecond float64      `json:"requestsPerSecond"`
	Statuses          map[int]int  `json:"statuses"`
	BytesPerAnswer    float64      `json:"bytesPerAnswer"`
	MachineCPU        float64      `json:"machineCPUSeconds"`
	Latency           latencyStats `json:"latency"`
	SeatsBooked       int          `json:"seatsBooked,omitempty"`
}

// seatMapReport is the seatmap phase.
type seatMapReport struct {
	EventID string          `json:"eventId"`
	Seats   int             `json:"seats"`
	Rounds  []*seatMapRound `json:"rounds"`
}

func seatMapPhase(ctx context.Context, s *setup, sl *sale) *seatMapReport {
	rep := &seatMapReport{EventID: sl.EventID, Seats: len(s.seatIDs)}
	uri := s.c.base + "/v1/events/" + sl.EventID + "/seats"
	_, etag, _ := s.c.seatMap(uri, true, "")
	rounds := []struct {
		name    string
		gzip    bool
		etag    string
		sellers int
	}{
		{name: "plain"},
		{name: "gzip", gzip: true},
		{name: "revalidate", gzip: true, etag: etag},
		{name: "selling", gzip: true, sellers: s.o.SeatMapSellers},
	}
	for _, r := range rounds {
		if ctx.Err() != nil {
			break
		}
		stop := make(chan struct{})
		var booked atomic.Int64
		var sellers sync.WaitGroup
		for range r.sellers {
			sellers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					seat := sl.pickSeat(true)
					if status, _ := s.c.book(sl.uri, s.buyers[rand.IntN(len(s.buyers))], sl.seatBodies[seat], nil); status == 201 {
						booked.Add(1)
						sl.taken[seat].Store(true)
					}
				}
			})
		}
		round := s.seatMapRound(ctx, uri, r.name, r.gzip, r.etag)
		close(stop)
		sellers.Wait()
		round.SeatsBooked = int(booked.Load())
		rep.Rounds = append(rep.Rounds, round)
	}
	return rep
}

func (s *setup) seatMapRound(ctx context.Context, uri, name string, gzip bool, etag string) *seatMapRound {
	n, conns := s.o.SeatMapRequests, s.o.SeatMapConnections
	latencies := make([]time.Duration, n)
	statuses := make([]int, n)
	var bytes atomic.Int64
	busy0 := machineBusy()
	start := time.Now()
	n = closedLoopOf(ctx, n, conns, func(i int) {
		t := time.Now()
		status, _, size := s.c.seatMap(uri, gzip, etag)
		latencies[i], statuses[i] = time.Since(t), status
		bytes.Add(int64(size))
	})
	latencies, statuses = latencies[:n], statuses[:n]
	elapsed := time.Since(start)
	r := &seatMapRound{Name: name, Requests: n, Connections: conns, Seconds: elapsed.Seconds(),
		RequestsPerSecond: float64(n) / elapsed.Seconds(), Statuses: map[int]int{},
		BytesPerAnswer: float64(bytes.Load()) / float64(max(n, 1)), MachineCPU: (machineBusy() - busy0).Seconds(),
		Latency: statsOf(latencies)}
	for _, st := range statuses {
		r.Statuses[st]++
	}
	return r
}

// seatMap sends one anonymous seat map request and returns the status, the
// ETag and the size of the body as sent (compressed or not).
func (c *client) seatMap(uri string, gzip bool, etag string) (status int, gotETag string, size int) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(uri)
	req.Header.SetBytesKV(headerTenant, []byte(c.tenant))
	if gzip {
		req.Header.Set(fasthttp.HeaderAcceptEncoding, "gzip")
	}
	if etag != "" {
		req.Header.Set(fasthttp.HeaderIfNoneMatch, etag)
	}
	if err := c.hc.Do(req, resp); err != nil {
		return 0, "", 0
	}
	return resp.StatusCode(), string(resp.Header.Peek(fasthttp.HeaderETag)), len(resp.Body())
}

func (r *seatMapReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nseatmap phase: event %s, %d seats\n", r.EventID, r.Seats)
	fmt.Fprintf(w, "  %-10s %9s %8s %9s %12s %9s %9s %9s  %s\n", "round", "requests", "seconds", "req/s", "bytes/answer", "p50 ms", "p99 ms", "cpu s", "statuses")
	for _, x := range r.Rounds {
		fmt.Fprintf(w, "  %-10s %9d %8.2f %9.1f %12.0f %9.1f %9.1f %9.2f  %v", x.Name, x.Requests, x.Seconds,
			x.RequestsPerSecond, x.BytesPerAnswer, x.Latency.P50, x.Latency.P99, x.MachineCPU, x.Statuses)
		if x.SeatsBooked > 0 {
			fmt.Fprintf(w, " (%d seats booked meanwhile)", x.SeatsBooked)
		}
		fmt.Fprintln(w)
	}
}
