package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// SessionRevocations implements ticketing.SessionRevocations: a revoked
// session id is kept for the lifetime of an access token, after which every
// token of that session has expired anyway.
//
// Every authenticated request asks whether its session was revoked, which
// on an on-sale is most of the Redis round trips the API makes. So a "not
// revoked" answer is remembered in process for CheckTTL: a revocation takes
// effect at once on the instance that made it and within CheckTTL on the
// others.
type SessionRevocations struct {
	c *Client
	// CheckTTL is how long a "not revoked" answer is reused; 0 asks Redis
	// every time.
	CheckTTL time.Duration

	mu      sync.Mutex
	checked map[string]time.Time // session id → when Redis last said "not revoked"
}

var _ ticketing.SessionRevocations = (*SessionRevocations)(nil)

// maxCheckedSessions bounds the memory of the "not revoked" answers.
const maxCheckedSessions = 100_000

// Sessions returns the session revocation list on c, reusing "not
// revoked" answers for checkTTL.
func (c *Client) Sessions(checkTTL time.Duration) *SessionRevocations {
	return &SessionRevocations{c: c, CheckTTL: checkTTL, checked: map[string]time.Time{}}
}

func (s *SessionRevocations) key(id string) string { return s.c.Key("session:revoked:" + id) }

// RevokeSessions implements ticketing.SessionRevocations.
func (s *SessionRevocations) RevokeSessions(ctx context.Context, ttl time.Duration, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	s.mu.Lock()
	for _, id := range ids {
		delete(s.checked, id)
	}
	s.mu.Unlock()
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, s.key(id), 1, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: revoke sessions: %w", err)
	}
	return nil
}

// SessionRevoked implements ticketing.SessionRevocations.
func (s *SessionRevocations) SessionRevoked(ctx context.Context, id string) (bool, error) {
	now := time.Now()
	s.mu.Lock()
	at, ok := s.checked[id]
	s.mu.Unlock()
	if ok && now.Sub(at) < s.CheckTTL {
		return false, nil
	}
	n, err := s.c.Exists(ctx, s.key(id)).Result()
	if err != nil {
		return false, fmt.Errorf("redis: session revoked: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	if s.CheckTTL > 0 {
		s.mu.Lock()
		if len(s.checked) >= maxCheckedSessions {
			clear(s.checked)
		}
		s.checked[id] = now
		s.mu.Unlock()
	}
	return false, nil
}
