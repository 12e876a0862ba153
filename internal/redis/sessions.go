package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// SessionRevocations implements ticketing.SessionRevocations: a revoked
// session id is kept for the lifetime of an access token, after which every
// token of that session has expired anyway.
type SessionRevocations struct{ c *Client }

var _ ticketing.SessionRevocations = SessionRevocations{}

// Sessions returns the session revocation list on c.
func (c *Client) Sessions() SessionRevocations { return SessionRevocations{c: c} }

func (s SessionRevocations) key(id string) string { return s.c.Key("session:revoked:" + id) }

// RevokeSessions implements ticketing.SessionRevocations.
func (s SessionRevocations) RevokeSessions(ctx context.Context, ttl time.Duration, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
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
func (s SessionRevocations) SessionRevoked(ctx context.Context, id string) (bool, error) {
	n, err := s.c.Exists(ctx, s.key(id)).Result()
	if err != nil {
		return false, fmt.Errorf("redis: session revoked: %w", err)
	}
	return n > 0, nil
}
