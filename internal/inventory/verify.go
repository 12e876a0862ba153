package inventory

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Verify checks the event's keys against each other, from Redis state alone,
// and returns the problems it finds in words; none means consistent. For
// every ticket type it recounts what live holds hold from holdinfo and checks
// available + held + sold = capacity; for every seat, that its state agrees
// with its type's counts and with the hold that holds it. An event that is
// not loaded and has no keys is consistent. Each buyer's live holds must be
// what the buyers hash counts, and its tickets at least what those hold
// (the rest were bought, which only Postgres knows: see BuyerCounts).
func (s *Store) Verify(ctx context.Context, ev Event) ([]string, error) {
	ks, err := s.keys(ev)
	if err != nil {
		return nil, err
	}
	res, err := dumpScript.Run(ctx, s.c, ks.data).Slice()
	if err != nil {
		return nil, fmt.Errorf("inventory: verify: %w", err)
	}
	d := dump{
		loaded: asInt(res, 0) == 1,
		kind:   pairs(res[1]), capacity: pairs(res[2]), avail: pairs(res[3]), sold: pairs(res[4]),
		seats: pairs(res[5]), seatType: pairs(res[6]), expiry: pairs(res[7]), info: pairs(res[8]),
		buyers: pairs(res[9]), holdBuyer: pairs(res[10]), limits: pairs(res[11]),
	}
	problems := d.check()
	sort.Strings(problems)
	return problems, nil
}

// dump is every key of one event, read at once by dump.lua.
type dump struct {
	loaded                        bool
	kind, capacity, avail, sold   map[string]string
	seats, seatType, expiry, info map[string]string
	buyers, holdBuyer, limits     map[string]string
}

func (d *dump) check() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !d.loaded {
		if n := len(d.kind) + len(d.capacity) + len(d.avail) + len(d.sold) + len(d.seats) + len(d.seatType) + len(d.expiry) + len(d.info) +
			len(d.buyers) + len(d.holdBuyer) + len(d.limits); n > 0 {
			add("meta missing but %d other entries exist", n)
		}
		return p
	}

	// What the live holds hold, recounted from holdinfo.
	held := map[string]int{}
	holdSeats := map[string]string{} // seat → hold id
	for id, info := range d.info {
		if _, ok := d.expiry[id]; !ok {
			add("hold %s: in holdinfo but not in holds", id)
		}
		items, seats, err := decodeInfo(info)
		if err != nil {
			add("hold %s: %v", id, err)
			continue
		}
		for _, it := range items {
			if d.kind[it.TicketTypeID] != "g" {
				add("hold %s: GA item of ticket type %s, which is not general admission", id, it.TicketTypeID)
			}
			if it.Quantity <= 0 {
				add("hold %s: quantity %d of ticket type %s", id, it.Quantity, it.TicketTypeID)
			}
			held[it.TicketTypeID] += it.Quantity
		}
		for _, seat := range seats {
			if other, ok := holdSeats[seat]; ok {
				add("seat %s: in holds %s and %s", seat, other, id)
			}
			holdSeats[seat] = id
			if v := d.seats[seat]; v != "h:"+id {
				add("seat %s: held by hold %s but its state is %q", seat, id, v)
			}
		}
	}
	for id := range d.expiry {
		if _, ok := d.info[id]; !ok {
			add("hold %s: in holds but not in holdinfo", id)
		}
	}

	// Seats: valid states and types, counted per seated type.
	type counts struct{ avail, held, sold int }
	bySeat := map[string]*counts{}
	for seat, v := range d.seats {
		tt, ok := d.seatType[seat]
		if !ok {
			add("seat %s: no ticket type", seat)
			continue
		}
		if d.kind[tt] != "s" {
			add("seat %s: ticket type %s is not seated", seat, tt)
			continue
		}
		c := bySeat[tt]
		if c == nil {
			c = &counts{}
			bySeat[tt] = c
		}
		switch {
		case v == "a":
			c.avail++
		case v == "s":
			c.sold++
		case strings.HasPrefix(v, "h:"):
			c.held++
			if id := v[2:]; holdSeats[seat] != id {
				add("seat %s: state %q but hold %s does not list it", seat, v, id)
			}
		default:
			add("seat %s: bad state %q", seat, v)
		}
	}
	for seat := range d.seatType {
		if _, ok := d.seats[seat]; !ok {
			add("seat %s: has a ticket type but no state", seat)
		}
	}

	// Every ticket type: available + held + sold = capacity.
	for tt, k := range d.kind {
		capacity, err1 := strconv.Atoi(d.capacity[tt])
		avail, err2 := strconv.Atoi(d.avail[tt])
		sold, err3 := strconv.Atoi(d.sold[tt])
		if err1 != nil || err2 != nil || err3 != nil {
			add("ticket type %s: capacity %q, available %q, sold %q", tt, d.capacity[tt], d.avail[tt], d.sold[tt])
			continue
		}
		h := held[tt]
		if k == "s" {
			c := bySeat[tt]
			if c == nil {
				c = &counts{}
			}
			h = c.held
			if c.avail != avail || c.sold != sold || c.avail+c.held+c.sold != capacity {
				add("ticket type %s: seats available %d held %d sold %d, counters available %d sold %d capacity %d",
					tt, c.avail, c.held, c.sold, avail, sold, capacity)
			}
		} else if k != "g" {
			add("ticket type %s: bad kind %q", tt, k)
		}
		if avail < 0 || sold < 0 || sold > capacity {
			add("ticket type %s: available %d sold %d capacity %d", tt, avail, sold, capacity)
		}
		if avail+h+sold != capacity {
			add("ticket type %s: available %d + held %d + sold %d != capacity %d", tt, avail, h, sold, capacity)
		}
	}
	for _, m := range []struct {
		name string
		m    map[string]string
	}{{"cap", d.capacity}, {"avail", d.avail}, {"sold", d.sold}} {
		for tt := range m.m {
			if _, ok := d.kind[tt]; !ok {
				add("ticket type %s: in %s but has no kind", tt, m.name)
			}
		}
	}
	for tt := range held {
		if _, ok := d.kind[tt]; !ok {
			add("ticket type %s: held but unknown", tt)
		}
	}
	d.checkBuyers(add)
	return p
}

// checkBuyers recounts every buyer's live holds and held tickets from
// holdinfo and holdbuyer and compares them with the buyers hash.
func (d *dump) checkBuyers(add func(string, ...any)) {
	var holds []Hold
	for id, buyer := range d.holdBuyer {
		info, ok := d.info[id]
		if !ok {
			add("hold %s: has buyer %s but no holdinfo", id, buyer)
			continue
		}
		items, seats, err := decodeInfo(info)
		if err != nil {
			continue // reported above
		}
		holds = append(holds, Hold{ID: id, Buyer: buyer, Items: items, Seats: seats})
	}
	want := buyerCounts(holds, nil, d.seatType)
	for field, v := range d.buyers {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			add("buyers %s: count %q", field, v)
			continue
		}
		switch {
		case strings.HasPrefix(field, "o:") && n != want[field]:
			add("buyers %s: %d live holds counted, %d found", field, n, want[field])
		case n < want[field]:
			add("buyers %s: %d tickets counted, live holds hold %d", field, n, want[field])
		}
	}
	for field, n := range want {
		if _, ok := d.buyers[field]; !ok && n > 0 {
			add("buyers %s: missing, live holds hold %d", field, n)
		}
	}
	for field, v := range d.limits {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			add("limits %s: %q", field, v)
		}
	}
}
