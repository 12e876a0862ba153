package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/ticketd-io/ticketd/internal/batch"
	"github.com/ticketd-io/ticketd/internal/cache"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// SessionRevocations implements ticketing.SessionRevocations: a revoked
// session id is kept for the lifetime of an access token, after which every
// token of that session has expired anyway.
//
// Postgres is the truth of revocations (refresh_tokens.revoked_at) and the
// Redis list a cache of it. Each tenant's list carries a marker written
// when it was loaded; a Redis that lost its data (a flush, a restart
// without persistence, a failover) has lost the marker too, and the list
// is then loaded again from Postgres before any answer, so a signed-out
// session never comes back to life.
//
// Every authenticated request asks whether its session was revoked, which
// on an on-sale is most of the Redis round trips the API makes. So a "not
// revoked" answer is remembered in process for CheckTTL: a revocation takes
// effect at once on the instance that made it, on the others when the
// invalidation bus given to Share tells them, and within CheckTTL at worst.
type SessionRevocations struct {
	c *Client
	// CheckTTL is how long a "not revoked" answer is reused; 0 asks Redis
	// every time.
	CheckTTL time.Duration
	source   RevokedSessions
	window   time.Duration
	loading  singleflight.Group
	// checks asks Redis about the sessions of concurrent requests in one
	// pipeline (a group commit of reads): on an on-sale's first second most
	// requests are a buyer's first, and one round trip each would be most
	// of the API's system calls.
	checks batch.Group[*revocationCheck]

	bus cache.Bus // nil: not shared

	mu      sync.Mutex
	checked map[string]time.Time // session id → when Redis last said "not revoked"
	// generation counts forgets: a "not revoked" asked before one is not
	// remembered after it, or a revocation heard meanwhile would be undone.
	generation uint64
}

var _ ticketing.SessionRevocations = (*SessionRevocations)(nil)

// maxCheckedSessions bounds the memory of the "not revoked" answers.
const maxCheckedSessions = 100_000

// RevokedSessions is where revocations are kept for good: the sessions of
// the context's tenant revoked within a window (postgres.SessionService).
type RevokedSessions interface {
	RevokedSessions(ctx context.Context, window time.Duration) ([]string, error)
}

// Batching of the revocation checks: at most this many sessions in one
// pipeline, this many pipelines at once, each given this long.
const (
	maxCheckBatch    = 128
	maxCheckFlushers = 2
	checkTimeout     = 3 * time.Second
)

// revocationCheck is one request's question to Redis: is the session
// revoked, and is its tenant's list loaded.
type revocationCheck struct {
	session, tenant string
	revoked, loaded bool
	err             error
	done            chan struct{}
}

// Sessions returns the session revocation list on c, reusing "not
// revoked" answers for checkTTL. window is the lifetime of an access token
// (with the parser's leeway): source's revocations within it are loaded
// into a tenant's list whenever Redis has lost it.
func (c *Client) Sessions(checkTTL time.Duration, source RevokedSessions, window time.Duration) *SessionRevocations {
	s := &SessionRevocations{c: c, CheckTTL: checkTTL, source: source, window: window, checked: map[string]time.Time{}}
	s.checks = batch.Group[*revocationCheck]{Flushers: maxCheckFlushers, Max: maxCheckBatch, Run: s.runChecks,
		Owner: func(c *revocationCheck) string { return c.tenant }}
	return s
}

// runChecks answers a batch of checks with one pipeline: an EXISTS for each
// session and one for each tenant's marker.
func (s *SessionRevocations) runChecks(b []*revocationCheck) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	revoked := make([]*goredis.IntCmd, len(b))
	loaded := map[string]*goredis.IntCmd{}
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range b {
			revoked[i] = p.Exists(ctx, s.key(c.session))
			if loaded[c.tenant] == nil {
				loaded[c.tenant] = p.Exists(ctx, s.loadedKey(c.tenant))
			}
		}
		return nil
	})
	for i, c := range b {
		if err != nil {
			c.err = err
		} else {
			c.revoked, c.loaded = revoked[i].Val() > 0, loaded[c.tenant].Val() > 0
		}
		close(c.done)
	}
}

func (s *SessionRevocations) key(id string) string { return s.c.Key("session:revoked:" + id) }

// loadedKey marks a tenant's list as loaded from Postgres.
func (s *SessionRevocations) loadedKey(tenantID string) string {
	return s.c.Key("session:revocations-loaded:" + tenantID)
}

// sessionCacheKind names the "not revoked" answers on the invalidation
// bus; its keys are session ids.
const sessionCacheKind = "session"

// Share has the other processes forget their "not revoked" answers of the
// sessions revoked here, and this one forget those revoked there, through
// bus; call it before the list is used.
func (s *SessionRevocations) Share(bus cache.Bus) {
	s.bus = bus
	bus.Handle(sessionCacheKind, func(id string) { s.forget(id) }, s.forgetAll)
}

// forget drops the "not revoked" answers of ids.
func (s *SessionRevocations) forget(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.checked, id)
	}
	s.generation++
}

// forgetAll drops every "not revoked" answer.
func (s *SessionRevocations) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.checked)
	s.generation++
}

// RevokeSessions implements ticketing.SessionRevocations. Once Redis has
// the revocations, the other processes are told to forget their answers.
func (s *SessionRevocations) RevokeSessions(ctx context.Context, ttl time.Duration, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	s.forget(ids...)
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, s.key(id), 1, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: revoke sessions: %w", err)
	}
	if s.bus != nil {
		for _, id := range ids {
			s.bus.Publish(sessionCacheKind, id)
		}
	}
	return nil
}

// load writes the tenant's revocations of the last window from Postgres into
// Redis, then the marker that says the list is whole, and returns them.
func (s *SessionRevocations) load(ctx context.Context, tenantID string) ([]string, error) {
	ids, err := s.source.RevokedSessions(ctx, s.window)
	if err != nil {
		return nil, fmt.Errorf("redis: loading session revocations: %w", err)
	}
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, s.key(id), 1, s.window)
		}
		// The marker lapses with the window, so the list is also reloaded now
		// and then, whatever happened to Redis.
		p.Set(ctx, s.loadedKey(tenantID), 1, s.window)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis: loading session revocations: %w", err)
	}
	return ids, nil
}

// SessionRevoked implements ticketing.SessionRevocations.
func (s *SessionRevocations) SessionRevoked(ctx context.Context, id string) (bool, error) {
	now := time.Now()
	s.mu.Lock()
	at, ok := s.checked[id]
	generation := s.generation
	s.mu.Unlock()
	if ok && now.Sub(at) < s.CheckTTL {
		return false, nil
	}
	tenant := ticketing.TenantFromContext(ctx)
	if tenant == nil {
		return false, errors.New("redis: session revoked: no tenant in the context")
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("redis: session revoked: %w", err)
	}
	tenantID := tenant.ID
	c := &revocationCheck{session: id, tenant: tenantID, done: make(chan struct{})}
	s.checks.Add(c)
	select {
	case <-c.done:
	case <-ctx.Done():
		return false, fmt.Errorf("redis: session revoked: %w", ctx.Err())
	}
	if c.err != nil {
		return false, fmt.Errorf("redis: session revoked: %w", c.err)
	}
	if c.revoked {
		return true, nil
	}
	if !c.loaded {
		// Redis lost the tenant's list, or never had it: load it from
		// Postgres before answering.
		ids, err, _ := s.loading.Do(tenantID, func() (any, error) { return s.load(ctx, tenantID) })
		if err != nil {
			return false, err
		}
		if slices.Contains(ids.([]string), id) {
			return true, nil
		}
	}
	if s.CheckTTL > 0 {
		s.mu.Lock()
		if len(s.checked) >= maxCheckedSessions {
			clear(s.checked)
		}
		if s.generation == generation {
			s.checked[id] = now
		}
		s.mu.Unlock()
	}
	return false, nil
}
