package inventory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// lockTTL bounds how long a crashed rebuilder blocks the others.
	lockTTL = 10 * time.Second
	// loadWait is how long a caller waits for another instance's rebuild.
	loadWait = 3 * time.Second
	// loadPoll is the pause between looks at meta while waiting.
	loadPoll = 20 * time.Millisecond
)

// load rebuilds the event from the Loader under the rebuild lock. Unforced,
// it does nothing once meta exists, and callers that lose the lock race wait
// for the winner's load. Forced, it deletes the event's keys first.
func (s *Store) load(ctx context.Context, ev Event, ks keySet, force bool) error {
	if s.loader == nil {
		return fmt.Errorf("%w: no loader", ErrNotLoaded)
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	deadline := time.Now().Add(loadWait)
	for {
		ok, err := s.c.SetNX(ctx, ks.lock, token, lockTTL).Result()
		if err != nil {
			return fmt.Errorf("inventory: rebuild lock: %w", err)
		}
		if ok {
			return s.loadLocked(ctx, ev, ks, token, force)
		}
		if !force {
			n, err := s.c.Exists(ctx, ks.data[0]).Result()
			if err != nil {
				return fmt.Errorf("inventory: rebuild wait: %w", err)
			}
			if n == 1 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: rebuild lock busy for %s", ErrNotLoaded, loadWait)
		}
		t := time.NewTimer(loadPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// loadLocked loads the event while holding the lock, then releases it.
func (s *Store) loadLocked(ctx context.Context, ev Event, ks keySet, token string, force bool) (err error) {
	defer func() {
		// Unlock even when ctx is done, or the others wait for the TTL.
		uerr := unlockScript.Run(context.WithoutCancel(ctx), s.c, []string{ks.lock}, token).Err()
		if uerr != nil && err == nil {
			err = fmt.Errorf("inventory: rebuild unlock: %w", uerr)
		}
	}()
	if force {
		if err := s.c.Del(ctx, ks.state()...).Err(); err != nil {
			return fmt.Errorf("inventory: rebuild: %w", err)
		}
	} else {
		// Another instance may have loaded between our miss and the lock.
		n, err := s.c.Exists(ctx, ks.data[0]).Result()
		if err != nil || n == 1 {
			return err
		}
	}
	snap, err := s.loader.LoadInventory(ctx, ev)
	if err != nil {
		return fmt.Errorf("inventory: load %s/%s: %w", ev.TenantID, ev.EventID, err)
	}
	// Expiry is judged by Redis time, as the scripts judge it.
	now, err := s.c.Time(ctx).Result()
	if err != nil {
		return fmt.Errorf("inventory: rebuild: %w", err)
	}
	args, err := loadArgs(snap, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("inventory: load %s/%s: %w", ev.TenantID, ev.EventID, err)
	}
	n, err := loadScript.Run(ctx, s.c, append(ks.data[:len(ks.data):len(ks.data)], ks.lock), append(args, token)...).Int()
	if err != nil {
		return fmt.Errorf("inventory: rebuild: %w", err)
	}
	if n == lockLost {
		return fmt.Errorf("%w: %s/%s", errLockLost, ev.TenantID, ev.EventID)
	}
	return nil
}

// lockLost is load.lua's answer when the rebuild lock is no longer the
// loader's.
const lockLost = -2

// errLockLost is a load refused because its loader lost the rebuild lock
// while reading Postgres: another loader may have written the event since,
// and holds placed there may be missing from this loader's snapshot.
// Callers that need the event loaded try again.
var errLockLost = fmt.Errorf("%w: rebuild lock lost while loading", ErrNotLoaded)

// typeState is the stock of one ticket type as a load computes it.
type typeState struct {
	kind                  string
	capacity, avail, sold int
}

// loadArgs computes the keys of an event from a snapshot, in the ARGV layout
// of load.lua. A ticket type or seat that does not fit together is an error;
// a hold that has expired by nowMs, or that conflicts with the stock or an
// earlier hold, is skipped whole, as the hold script would refuse it.
func loadArgs(snap *Snapshot, nowMs int64) ([]any, error) {
	if snap == nil {
		return nil, errors.New("no snapshot")
	}
	types := make(map[string]*typeState, len(snap.TicketTypes))
	for _, t := range snap.TicketTypes {
		if !goodID(t.ID) || types[t.ID] != nil {
			return nil, fmt.Errorf("bad or duplicate ticket type %q", t.ID)
		}
		if t.Seated {
			// Capacity and sold of a seated type are its seats, counted below.
			types[t.ID] = &typeState{kind: "s"}
			continue
		}
		if t.Sold < 0 || t.Sold > t.Capacity {
			return nil, fmt.Errorf("ticket type %s: sold %d of capacity %d", t.ID, t.Sold, t.Capacity)
		}
		types[t.ID] = &typeState{kind: "g", capacity: t.Capacity, avail: t.Capacity - t.Sold, sold: t.Sold}
	}
	seatState := make(map[string]string, len(snap.Seats))
	seatType := make(map[string]string, len(snap.Seats))
	for _, st := range snap.Seats {
		tt := types[st.TicketTypeID]
		switch {
		case !goodID(st.ID) || seatState[st.ID] != "":
			return nil, fmt.Errorf("bad or duplicate seat %q", st.ID)
		case tt == nil || tt.kind != "s":
			return nil, fmt.Errorf("seat %s: ticket type %q is not a seated type of the event", st.ID, st.TicketTypeID)
		}
		seatType[st.ID] = st.TicketTypeID
		tt.capacity++
		if st.Sold {
			seatState[st.ID] = "s"
			tt.sold++
		} else {
			seatState[st.ID] = "a"
			tt.avail++
		}
	}

	type loaded struct {
		id, info, buyer string
		expMs           int64
	}
	var holds []loaded
	var counted []Hold
	seen := make(map[string]bool, len(snap.Holds))
	for _, h := range snap.Holds {
		exp := h.ExpiresAt.UnixMilli()
		if exp < nowMs || seen[h.ID] {
			continue
		}
		items, seats, err := normalize(h)
		if err != nil || !wellFormed(items, seats, types, seatState) {
			continue // not a hold of this event's stock: nothing to keep
		}
		if !fits(items, seats, types, seatState) {
			// Postgres records more holds than there are tickets: a booking
			// committed after an earlier rebuild left its hold out, and its
			// fence has not failed it yet. Which holds to keep is not ours
			// to guess; wait for that booking to give up.
			return nil, fmt.Errorf("%w: hold %s does not fit", ErrOvercommitted, h.ID)
		}
		seen[h.ID] = true
		for _, it := range items {
			types[it.TicketTypeID].avail -= it.Quantity
		}
		for _, seat := range seats {
			seatState[seat] = "h:" + h.ID
			types[seatType[seat]].avail--
		}
		holds = append(holds, loaded{id: h.ID, info: encodeInfo(items, seats), buyer: h.Buyer, expMs: exp})
		counted = append(counted, h)
	}
	buyers := buyerCounts(counted, snap.Bought, seatType)
	limits := map[string]int{}
	if snap.MaxPerBuyer > 0 {
		limits["*"] = snap.MaxPerBuyer
	}
	for _, t := range snap.TicketTypes {
		if t.MaxPerBuyer > 0 {
			limits[t.ID] = t.MaxPerBuyer
		}
	}

	args := make([]any, 0, 8+5*len(types)+3*len(seatState)+4*len(holds)+2*len(buyers)+2*len(limits)+2*len(snap.Keyed)+len(snap.Settled))
	args = append(args, strconv.FormatInt(nowMs, 10), strconv.Itoa(len(types)))
	for _, t := range snap.TicketTypes {
		st := types[t.ID]
		args = append(args, t.ID, st.kind, strconv.Itoa(st.capacity), strconv.Itoa(st.avail), strconv.Itoa(st.sold))
	}
	args = append(args, strconv.Itoa(len(snap.Seats)))
	for _, st := range snap.Seats {
		args = append(args, st.ID, st.TicketTypeID, seatState[st.ID])
	}
	args = append(args, strconv.Itoa(len(holds)))
	for _, h := range holds {
		args = append(args, h.id, strconv.FormatInt(h.expMs, 10), h.info, h.buyer)
	}
	for _, m := range []map[string]int{buyers, limits} {
		args = append(args, strconv.Itoa(len(m)))
		for k, v := range m {
			args = append(args, k, strconv.Itoa(v))
		}
	}
	args = append(args, strconv.Itoa(len(snap.Keyed)))
	for _, k := range snap.Keyed {
		args = append(args, keyedField(k.Buyer, k.IdempotencyKey), k.ID)
	}
	args = append(args, strconv.Itoa(len(snap.Settled)))
	for _, id := range snap.Settled {
		args = append(args, id)
	}
	return args, nil
}

// buyerCounts is the buyers hash of holds (live, already checked against the
// stock) and bought tickets: per buyer, tickets held or bought in the event
// and per ticket type, and live holds.
func buyerCounts(holds []Hold, bought []Bought, seatType map[string]string) map[string]int {
	m := map[string]int{}
	for _, h := range holds {
		if h.Buyer == "" {
			continue
		}
		m["o:"+h.Buyer]++
		for _, it := range h.Items {
			m["t:"+h.Buyer] += it.Quantity
			m["y:"+h.Buyer+":"+it.TicketTypeID] += it.Quantity
		}
		for _, seat := range h.Seats {
			m["t:"+h.Buyer]++
			m["y:"+h.Buyer+":"+seatType[seat]]++
		}
	}
	for _, b := range bought {
		if b.Buyer == "" || b.Count <= 0 {
			continue
		}
		m["t:"+b.Buyer] += b.Count
		m["y:"+b.Buyer+":"+b.TicketTypeID] += b.Count
	}
	return m
}

// BuyerCounts is what the buyers hash of an event should hold according to
// a snapshot (the live holds it lists, whether or not they fit, and what was
// bought), keyed as in the hash: "t:<buyer>", "y:<buyer>:<ticketTypeId>",
// "o:<buyer>". `ticketd inventory check` compares it with Buyers.
func BuyerCounts(snap *Snapshot, now time.Time) map[string]int {
	seatType := make(map[string]string, len(snap.Seats))
	for _, st := range snap.Seats {
		seatType[st.ID] = st.TicketTypeID
	}
	var live []Hold
	for _, h := range snap.Holds {
		if !h.ExpiresAt.Before(now) {
			live = append(live, h)
		}
	}
	return buyerCounts(live, snap.Bought, seatType)
}

// fits reports whether a snapshot hold can be granted from what is left.
func fits(items []Item, seats []string, types map[string]*typeState, seatState map[string]string) bool {
	for _, it := range items {
		if types[it.TicketTypeID].avail < it.Quantity {
			return false
		}
	}
	for _, seat := range seats {
		if seatState[seat] != "a" {
			return false
		}
	}
	return true
}

// wellFormed reports whether a snapshot hold names general admission types
// and seats of the event.
func wellFormed(items []Item, seats []string, types map[string]*typeState, seatState map[string]string) bool {
	for _, it := range items {
		if tt := types[it.TicketTypeID]; tt == nil || tt.kind != "g" {
			return false
		}
	}
	for _, seat := range seats {
		if seatState[seat] == "" {
			return false
		}
	}
	return true
}

// encodeInfo is the holdinfo value of a hold, as hold.lua writes it.
func encodeInfo(items []Item, seats []string) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(items)))
	for _, it := range items {
		b.WriteString("\n" + it.TicketTypeID + "\n" + strconv.Itoa(it.Quantity))
	}
	for _, seat := range seats {
		b.WriteString("\n" + seat)
	}
	return b.String()
}

// decodeInfo parses a holdinfo value.
func decodeInfo(info string) ([]Item, []string, error) {
	f := strings.Split(info, "\n")
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 || 1+2*n > len(f) {
		return nil, nil, fmt.Errorf("bad holdinfo %q", info)
	}
	items := make([]Item, n)
	for i := range items {
		q, err := strconv.Atoi(f[2+2*i])
		if err != nil {
			return nil, nil, fmt.Errorf("bad holdinfo %q", info)
		}
		items[i] = Item{TicketTypeID: f[1+2*i], Quantity: q}
	}
	return items, f[1+2*n:], nil
}
