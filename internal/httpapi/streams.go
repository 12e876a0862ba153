package httpapi

import (
	"sync"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// maxStreamsPerUser caps the waiting room event streams one account has open
// at once in a process: a storefront needs one per tab.
const maxStreamsPerUser = 3

// streamSlots counts the waiting room's open event streams: at most total in
// the process, at most half of them for one organizer, and at most
// maxStreamsPerUser for one account, so that neither one organizer's on-sale
// nor a script with one account can take every slot.
type streamSlots struct {
	mu      sync.Mutex
	open    int
	tenants map[string]int
	users   map[string]int
}

// acquire takes a slot for the user of tenant, or says why it cannot: 429
// for the account's own cap, 503 (poll instead) when the process or the
// organizer's share is full.
func (s *streamSlots) acquire(tenant, user string, total int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants == nil {
		s.tenants, s.users = map[string]int{}, map[string]int{}
	}
	userKey := tenant + "|" + user
	switch {
	case s.users[userKey] >= maxStreamsPerUser:
		return ticketing.Errorf(ticketing.KindTooManyRequests, ticketing.CodeTooManyRequests,
			"this account has %d waiting room streams open; close one, or poll the status instead", maxStreamsPerUser)
	case s.open >= total, s.tenants[tenant] >= max(total/2, 1):
		return ticketing.Errorf(ticketing.KindUnavailable, ticketing.CodeUnavailable,
			"too many waiting room streams; poll the status instead")
	}
	s.open++
	s.tenants[tenant]++
	s.users[userKey]++
	return nil
}

// release gives back a slot acquire took.
func (s *streamSlots) release(tenant, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	userKey := tenant + "|" + user
	s.open--
	if s.tenants[tenant]--; s.tenants[tenant] <= 0 {
		delete(s.tenants, tenant)
	}
	if s.users[userKey]--; s.users[userKey] <= 0 {
		delete(s.users, userKey)
	}
}
