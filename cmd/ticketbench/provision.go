package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// setup is the organizer a run sells in: its admin, its venue and its buyers.
type setup struct {
	c       *client
	o       options
	slug    string
	admin   string   // the admin's access token
	venueID string   // the venue of every sale
	seatIDs []string // the seats of the seated section, in layout order
	buyers  [][]byte // "Bearer <access token>" of each buyer
	userIDs []string // the user id of each buyer
	// With -keyed, attempts' Idempotency-Keys: keyPrefix and a counter.
	keyPrefix string
	keys      atomic.Uint64
}

// The venue's two sections: the seated ticket type sells the whole seated
// one; the other only makes the venue big enough for the general-admission
// capacity (a venue with a layout holds as many people as it has seats).
const (
	seatedSection   = "Stalls"
	standingSection = "Standing"
)

type tokenResponse struct {
	AccessToken string `json:"accessToken"`
	User        struct {
		ID string `json:"id"`
	} `json:"user"`
}

// provision creates a fresh organizer with a unique slug, its venue, and
// signs up the buyers.
func provision(ctx context.Context, c *client, o options) (*setup, error) {
	s := &setup{c: c, o: o, slug: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	s.keyPrefix = s.slug + "-"
	admin := map[string]string{"email": "admin@" + s.slug + ".test", "password": "bench-admin-" + s.slug, "name": "Bench Admin"}
	err := c.call("POST", "/v1/platform/tenants", o.APIKey, map[string]any{
		"slug": s.slug, "name": "ticketbench " + s.slug, "currency": "NGN", "admin": admin,
	}, nil, 201)
	if err != nil {
		return nil, fmt.Errorf("creating the organizer: %w", err)
	}
	c.tenant = s.slug
	var tok tokenResponse
	if err := c.call("POST", "/v1/auth/signin", "", map[string]string{"email": admin["email"], "password": admin["password"]}, &tok, 200); err != nil {
		return nil, fmt.Errorf("signing in the admin: %w", err)
	}
	s.admin = tok.AccessToken
	if err := s.createVenue(); err != nil {
		return nil, err
	}
	if err := s.signUpBuyers(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// rows lays out n seats in rows of at most perRow (the API allows 1000).
func rows(n, perRow int) []map[string]any {
	var out []map[string]any
	for i := 0; n > 0; i++ {
		k := min(n, perRow)
		out = append(out, map[string]any{"label": strconv.Itoa(i + 1), "seats": k})
		n -= k
	}
	return out
}

func (s *setup) createVenue() error {
	var v struct {
		ID     string `json:"id"`
		Layout struct {
			Sections []struct {
				Name string `json:"name"`
				Rows []struct {
					Seats []struct {
						ID string `json:"id"`
					} `json:"seats"`
				} `json:"rows"`
			} `json:"sections"`
		} `json:"layout"`
	}
	err := s.c.call("POST", "/v1/venues", s.admin, map[string]any{
		"name": "Bench Arena", "timezone": "Africa/Lagos",
		"layout": map[string]any{"sections": []map[string]any{
			{"name": seatedSection, "rows": rows(s.o.Seats, 50)},
			{"name": standingSection, "rows": rows(s.o.GACapacity, 1000)},
		}},
	}, &v, 201)
	if err != nil {
		return fmt.Errorf("creating the venue: %w", err)
	}
	s.venueID = v.ID
	for _, sec := range v.Layout.Sections {
		if sec.Name != seatedSection {
			continue
		}
		for _, r := range sec.Rows {
			for _, seat := range r.Seats {
				s.seatIDs = append(s.seatIDs, seat.ID)
			}
		}
	}
	if len(s.seatIDs) != s.o.Seats {
		return fmt.Errorf("creating the venue: the answer lists %d seats in %s, want %d", len(s.seatIDs), seatedSection, s.o.Seats)
	}
	return nil
}

// signUpBuyers signs up the buyers a few at a time: each signup hashes a
// password with argon2id, which the server runs only a few at a time anyway.
func (s *setup) signUpBuyers(ctx context.Context) error {
	s.buyers = make([][]byte, s.o.Buyers)
	s.userIDs = make([]string, s.o.Buyers)
	next := make(chan int)
	errs := make(chan error, s.o.SignupConcurrency)
	var wg sync.WaitGroup
	for range s.o.SignupConcurrency {
		wg.Go(func() {
			for i := range next {
				var tok tokenResponse
				err := s.c.call("POST", "/v1/auth/signup", "", map[string]string{
					"email": fmt.Sprintf("buyer%d@%s.test", i, s.slug), "password": "bench-buyer-" + s.slug,
					"name": fmt.Sprintf("Buyer %d", i),
				}, &tok, 201)
				if err != nil {
					errs <- fmt.Errorf("signing up buyer %d: %w", i, err)
					return
				}
				s.buyers[i] = []byte("Bearer " + tok.AccessToken)
				s.userIDs[i] = tok.User.ID
			}
		})
	}
	var err error
feed:
	for i := range s.o.Buyers {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

// sale is one published event on sale with a general-admission and a
// seated ticket type, and the request bodies of booking attempts.
type sale struct {
	EventID      string `json:"eventId"`
	GATypeID     string `json:"gaTicketTypeId"`
	SeatedTypeID string `json:"seatedTicketTypeId"`
	uri          string
	gaBody       []byte        // one GA ticket
	seatBodies   [][]byte      // one per seat of the seated section, in layout order
	taken        []atomic.Bool // by seat: answered 201 or SEAT_UNAVAILABLE
}

// newSale creates and publishes a fresh event at the venue, on sale now.
// Holds last an hour (the most allowed) so that none expires during a run.
func (s *setup) newSale(phase string) (*sale, error) {
	now := time.Now().UTC().Truncate(time.Second)
	starts := now.Add(7 * 24 * time.Hour)
	var ev struct {
		ID                 string `json:"id"`
		MaxTicketsPerBuyer *int   `json:"maxTicketsPerBuyer"`
	}
	var ga, seated struct {
		ID string `json:"id"`
	}
	body := map[string]any{
		"venueId": s.venueID, "title": "Flash sale (" + phase + " loop)",
		"startsAt": starts, "endsAt": starts.Add(3 * time.Hour),
		"salesStartAt": now.Add(-time.Hour), "salesEndAt": starts, "holdMinutes": 60,
	}
	if s.o.MaxPerBuyer > 0 {
		body["maxTicketsPerBuyer"] = s.o.MaxPerBuyer
	}
	err := s.c.call("POST", "/v1/events", s.admin, body, &ev, 201)
	if err != nil {
		return nil, fmt.Errorf("creating the event: %w", err)
	}
	if s.o.MaxPerBuyer > 0 && (ev.MaxTicketsPerBuyer == nil || *ev.MaxTicketsPerBuyer != s.o.MaxPerBuyer) {
		return nil, fmt.Errorf("creating the event: the answer has maxTicketsPerBuyer %v, want %d (a ticketd without per-buyer limits?)",
			derefOr(ev.MaxTicketsPerBuyer, "null"), s.o.MaxPerBuyer)
	}
	path := "/v1/events/" + ev.ID
	if err := s.c.call("POST", path+"/ticket-types", s.admin, map[string]any{
		"name": "General admission", "kind": "general_admission", "price": 1500000,
		"capacity": s.o.GACapacity, "maxPerOrder": 10,
	}, &ga, 201); err != nil {
		return nil, fmt.Errorf("creating the GA ticket type: %w", err)
	}
	if err := s.c.call("POST", path+"/ticket-types", s.admin, map[string]any{
		"name": seatedSection, "kind": "seated", "price": 4000000, "sections": []string{seatedSection},
	}, &seated, 201); err != nil {
		return nil, fmt.Errorf("creating the seated ticket type: %w", err)
	}
	if err := s.c.call("POST", path+"/publish", s.admin, nil, nil, 200); err != nil {
		return nil, fmt.Errorf("publishing the event: %w", err)
	}
	sl := &sale{EventID: ev.ID, GATypeID: ga.ID, SeatedTypeID: seated.ID, uri: s.c.base + "/v1/bookings",
		taken: make([]atomic.Bool, len(s.seatIDs))}
	sl.gaBody = fmt.Appendf(nil, `{"eventId":%q,"items":[{"ticketTypeId":%q,"quantity":1}]}`, ev.ID, ga.ID)
	for _, id := range s.seatIDs {
		sl.seatBodies = append(sl.seatBodies, fmt.Appendf(nil, `{"eventId":%q,"seats":[%q]}`, ev.ID, id))
	}
	return sl, nil
}
