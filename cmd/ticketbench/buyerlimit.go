package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// maxBuyerLimit is the largest maxTicketsPerBuyer ticketd accepts.
const maxBuyerLimit = 10000

// codeBuyerLimit is ticketd's refusal of a booking past a per-buyer limit.
const codeBuyerLimit = "BUYER_LIMIT_REACHED"

// buyerLimitReport is what the event's per-buyer limit (-max-per-buyer) did
// in a phase: by the tool's 201s, and by the event's bookings in Postgres.
type buyerLimitReport struct {
	Max int `json:"max"` // the event's maxTicketsPerBuyer
	// Buyers got at least one 201, BuyersAtLimit got Max tickets (or
	// more), MaxHeld is the most tickets any buyer got 201 for.
	Buyers        int `json:"buyers"`
	BuyersAtLimit int `json:"buyersAtLimit"`
	MaxHeld       int `json:"maxHeld"`
	// Refusals are the attempts answered 409 BUYER_LIMIT_REACHED.
	// RefusedBelowLimit counts the buyers refused so who end the phase with
	// fewer than Max tickets (by the tool's 201s, or by Postgres when it
	// counts more): tickets are only taken in a phase, never given back, so
	// a refusal was wrong.
	Refusals          int `json:"refusals"`
	RefusedBelowLimit int `json:"refusedBelowLimit"`
	// OverLimit is the tickets beyond Max, summed over the buyers, by the
	// tool's 201s or by Postgres, whichever counts more: the invariant.
	OverLimit int `json:"overLimit"`
	// Server is what Postgres holds per buyer, from GET /v1/bookings.
	Server *serverBuyers `json:"server,omitempty"`

	got     []int // by buyer: tickets answered 201
	refused []int // by buyer: attempts answered BUYER_LIMIT_REACHED
}

// serverBuyers is the event's tickets per buyer as Postgres holds them:
// pending and confirmed bookings (the ones that hold or own tickets), read
// through the admin's GET /v1/bookings?eventId=.
type serverBuyers struct {
	Bookings  int `json:"bookings"` // pending and confirmed
	Tickets   int `json:"tickets"`
	Buyers    int `json:"buyers"`
	MaxHeld   int `json:"maxHeld"`
	OverLimit int `json:"overLimit"`
	// Disagree are the buyers whose tickets in Postgres are not what the
	// tool was answered 201 for; Strangers the tickets of accounts that are
	// not the run's buyers.
	Disagree  int `json:"disagree"`
	Strangers int `json:"strangers"`
}

// buyerLimitOf counts, per buyer, the tickets answered 201 (a GA attempt
// its one ticket, a seat one) and the BUYER_LIMIT_REACHED refusals; nil
// without a limit.
func buyerLimitOf(res []attempt, limit, buyers int) *buyerLimitReport {
	if limit <= 0 {
		return nil
	}
	b := &buyerLimitReport{Max: limit, got: make([]int, buyers), refused: make([]int, buyers)}
	for _, a := range res {
		switch {
		case a.status == 201:
			b.got[a.buyer]++ // every attempt books one ticket: one GA ticket or one seat
		case a.status == 409 && a.code == codeBuyerLimit:
			b.Refusals++
			b.refused[a.buyer]++
		}
	}
	b.tally(nil)
	return b
}

// tally sets the counts from got and, when not nil, Postgres's tickets by
// buyer index.
func (b *buyerLimitReport) tally(server []int) {
	b.Buyers, b.BuyersAtLimit, b.MaxHeld, b.OverLimit, b.RefusedBelowLimit = 0, 0, 0, 0, 0
	for i, n := range b.got {
		if n > 0 {
			b.Buyers++
		}
		if n >= b.Max {
			b.BuyersAtLimit++
		}
		b.MaxHeld = max(b.MaxHeld, n)
		most := n
		if server != nil {
			most = max(n, server[i])
		}
		b.OverLimit += max(0, most-b.Max)
		if b.refused[i] > 0 && most < b.Max {
			b.RefusedBelowLimit++
		}
	}
	if b.Server != nil {
		// A stranger's tickets are past any limit a run's buyer could reach.
		b.OverLimit = max(b.OverLimit, b.Server.OverLimit)
	}
}

type bookingPage struct {
	Data []struct {
		UserID string `json:"userId"`
		Status string `json:"status"`
		Items  []struct {
			Quantity int      `json:"quantity"`
			Seats    []string `json:"seats"`
		} `json:"items"`
	} `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// checkBuyerLimit checks the tool's 201s per buyer against the limit and,
// from the event's bookings in Postgres, what each buyer holds against the
// limit and against the tool's 201s.
func (p *phaseReport) checkBuyerLimit(s *setup, sl *sale) {
	b := p.BuyerLimit
	server, sv, err := serverTickets(s, sl, b.Max)
	if err != nil {
		p.problem("per-buyer limit: reading the event's bookings: %v", err)
	} else {
		for i, n := range server {
			if n != b.got[i] {
				sv.Disagree++
			}
		}
		b.Server = sv
	}
	b.tally(server)
	if b.OverLimit > 0 {
		p.problem("per-buyer limit %d: %d tickets over the limit (by the tool's 201s the most one buyer got is %d)", b.Max, b.OverLimit, b.MaxHeld)
	}
	if sv == nil {
		return
	}
	if sv.Disagree > 0 {
		p.problem("per-buyer limit: Postgres holds for %d buyers another number of tickets than the tool was answered 201 for (%d attempts of the phase got no answer)",
			sv.Disagree, p.NoAnswer)
	}
	if sv.Strangers > 0 {
		p.problem("per-buyer limit: Postgres holds %d tickets of the event for accounts that are not the run's buyers", sv.Strangers)
	}
	if b.RefusedBelowLimit > 0 {
		p.problem("per-buyer limit %d: %d buyers were refused %s but hold fewer tickets", b.Max, b.RefusedBelowLimit, codeBuyerLimit)
	}
}

// serverTickets reads the event's bookings (GET /v1/bookings?eventId= as
// the admin, from Postgres) and returns the tickets of the pending and
// confirmed ones by buyer index.
func serverTickets(s *setup, sl *sale, limit int) ([]int, *serverBuyers, error) {
	index := make(map[string]int, len(s.userIDs))
	for i, id := range s.userIDs {
		index[id] = i
	}
	server := make([]int, len(s.userIDs))
	sv := &serverBuyers{}
	cursor := ""
	for {
		path := "/v1/bookings?limit=200&eventId=" + url.QueryEscape(sl.EventID)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page bookingPage
		if err := s.c.call("GET", path, s.admin, nil, &page, 200); err != nil {
			return nil, nil, err
		}
		for _, bk := range page.Data {
			if bk.Status != "pending" && bk.Status != "confirmed" {
				continue
			}
			n := 0
			for _, it := range bk.Items {
				n += max(it.Quantity, len(it.Seats))
			}
			sv.Bookings++
			sv.Tickets += n
			if i, ok := index[bk.UserID]; ok {
				server[i] += n
			} else {
				sv.Strangers += n
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	for _, n := range server {
		if n > 0 {
			sv.Buyers++
		}
		sv.MaxHeld = max(sv.MaxHeld, n)
		sv.OverLimit += max(0, n-limit)
	}
	sv.OverLimit += sv.Strangers
	return server, sv, nil
}

// bar is the per-buyer limit's line of the bars: met when nobody got past
// it and Postgres was read.
func (b *buyerLimitReport) bar() bar {
	return bar{"over-limit purchases", "0", strconv.Itoa(b.OverLimit), b.OverLimit == 0 && b.Server != nil}
}

func (b *buyerLimitReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nper-buyer limit: maxTicketsPerBuyer %d; %d of %d buyers reached it, %d attempts refused 409 %s, the most one buyer got %d; over-limit purchases %d\n",
		b.Max, b.BuyersAtLimit, len(b.got), b.Refusals, codeBuyerLimit, b.MaxHeld, b.OverLimit)
	if sv := b.Server; sv != nil {
		agree := "agree with the tool's 201s for every buyer"
		if sv.Disagree > 0 {
			agree = fmt.Sprintf("DISAGREE with the tool's 201s for %d buyers", sv.Disagree)
		}
		fmt.Fprintf(w, "  Postgres (GET /v1/bookings): %d tickets in %d pending or confirmed bookings of %d buyers, the most %d, %d over the limit; %s\n",
			sv.Tickets, sv.Bookings, sv.Buyers, sv.MaxHeld, sv.OverLimit, agree)
	}
	if b.RefusedBelowLimit > 0 {
		fmt.Fprintf(w, "  %d buyers were refused %s while below the limit\n", b.RefusedBelowLimit, codeBuyerLimit)
	}
}

// derefOr formats *p, or none for nil.
func derefOr(p *int, none string) string {
	if p == nil {
		return none
	}
	return strconv.Itoa(*p)
}
