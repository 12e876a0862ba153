package redis_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// revokedInPostgres stands for the sessions Postgres records as revoked.
type revokedInPostgres struct {
	mu    sync.Mutex
	ids   []string
	loads int
}

func (r *revokedInPostgres) RevokedSessions(context.Context, time.Duration) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loads++
	return slices.Clone(r.ids), nil
}

func (r *revokedInPostgres) revoke(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
}

func tenantCtx(t *testing.T) context.Context {
	return ticketing.WithTenant(t.Context(), &ticketing.Tenant{ID: "00000000-0000-4000-8000-000000000001"})
}

// TestRevocationReachesEveryInstance: the instance that revokes a session
// refuses it at once; another instance, which remembered "not revoked",
// refuses it once its CheckTTL has passed.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	const checkTTL = 200 * time.Millisecond
	c := redistest.New(t)
	pg := &revokedInPostgres{}
	here, there := c.Sessions(checkTTL, pg, time.Minute), c.Sessions(checkTTL, pg, time.Minute)
	ctx := tenantCtx(t)
	if revoked, err := there.SessionRevoked(ctx, "s1"); err != nil || revoked {
		t.Fatalf("fresh session: %v %v", revoked, err)
	}
	// there remembers "not revoked" from a moment before this.
	remembered := time.Now()
	if _, err := here.SessionRevoked(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := here.RevokeSessions(ctx, time.Minute, "s1"); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := here.SessionRevoked(ctx, "s1"); !revoked {
		t.Fatal("the revoking instance still accepts the session")
	}
	// Once CheckTTL has passed since then (the sleep may end late, never
	// early), there asks Redis again.
	time.Sleep(time.Until(remembered.Add(checkTTL)))
	if revoked, err := there.SessionRevoked(ctx, "s1"); err != nil || !revoked {
		t.Fatalf("another instance accepts a revoked session beyond its CheckTTL (%v)", err)
	}
}

// TestSharedRevocationReachesAnotherInstanceBeforeItsCheckTTL: through
// the invalidation bus, an instance that remembered "not revoked" for an
// hour forgets it as soon as another instance revokes the session.
func TestSharedRevocationReachesAnotherInstanceBeforeItsCheckTTL(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	pg := &revokedInPostgres{}
	here, there := c.Sessions(time.Hour, pg, time.Minute), c.Sessions(time.Hour, pg, time.Minute)
	var subscribed subscriptions
	runBus(t, redistest.URL(), c.Prefix, &subscribed, func(b *redis.Invalidations) { here.Share(b) })
	runBus(t, redistest.URL(), c.Prefix, &subscribed, func(b *redis.Invalidations) { there.Share(b) })
	// A subscription forgets every answer: both come before the one that
	// must be forgotten by the revocation alone.
	waitUntil(t, "both buses subscribed", func() bool { return subscribed.Load() == 2 })
	ctx := tenantCtx(t)
	if revoked, err := there.SessionRevoked(ctx, "s1"); err != nil || revoked {
		t.Fatalf("fresh session: %v %v", revoked, err)
	}
	if err := here.RevokeSessions(ctx, time.Minute, "s1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other instance refuses the revoked session", func() bool {
		revoked, err := there.SessionRevoked(ctx, "s1")
		return err == nil && revoked
	})
}

// subscriptions counts the buses' subscriptions, and nothing else.
type subscriptions struct{ atomic.Int64 }

func (*subscriptions) InvalidationsPublished(string, int) {}
func (*subscriptions) InvalidationReceived(string)        {}
func (*subscriptions) InvalidationsDropped(string, int)   {}
func (s *subscriptions) InvalidationsResubscribed()       { s.Add(1) }

// TestRevocationSurvivesRedisLosingItsData: Postgres is the truth; when
// Redis has lost the list (flushed, restarted), it is loaded again before
// any session is let in.
func TestRevocationSurvivesRedisLosingItsData(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	pg := &revokedInPostgres{}
	sessions := c.Sessions(0, pg, time.Minute)
	ctx := tenantCtx(t)
	if revoked, err := sessions.SessionRevoked(ctx, "live"); err != nil || revoked {
		t.Fatalf("a live session: %v %v", revoked, err)
	}
	pg.revoke("signed-out")
	if err := sessions.RevokeSessions(ctx, time.Minute, "signed-out"); err != nil {
		t.Fatal(err)
	}
	// Redis loses everything of this test's namespace.
	keys, err := c.Keys(ctx, c.Prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if err := c.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if revoked, err := sessions.SessionRevoked(ctx, "signed-out"); err != nil || !revoked {
		t.Fatalf("a signed-out session after Redis lost its data: revoked %v (%v)", revoked, err)
	}
	if revoked, err := sessions.SessionRevoked(ctx, "live"); err != nil || revoked {
		t.Fatalf("a live session after the reload: %v %v", revoked, err)
	}
	if pg.loads != 2 {
		t.Fatalf("the list was loaded %d times, want once at first use and once after the loss", pg.loads)
	}
	// Without a tenant there is no list to ask.
	if _, err := sessions.SessionRevoked(t.Context(), "live"); err == nil {
		t.Fatal("a check without a tenant answered")
	}
}

// TestConcurrentChecksAnswerEachSession: checks of many requests at once
// share pipelines, and each still gets its own session's answer, in two
// tenants, one of whose lists Redis has never loaded.
func TestConcurrentChecksAnswerEachSession(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	pg := &revokedInPostgres{}
	s := c.Sessions(0, pg, time.Minute)
	t1 := tenantCtx(t)
	t2 := ticketing.WithTenant(t.Context(), &ticketing.Tenant{ID: "00000000-0000-4000-8000-000000000002"})
	// t1's revocations are in Redis; t2's only in Postgres.
	if _, err := s.SessionRevoked(t1, "warm-up"); err != nil {
		t.Fatal(err)
	}
	const n = 400
	var revokedHere []string
	for i := range n {
		if i%3 == 0 {
			revokedHere = append(revokedHere, fmt.Sprintf("t1-s%d", i))
			pg.revoke(fmt.Sprintf("t2-s%d", i))
		}
	}
	if err := s.RevokeSessions(t1, time.Minute, revokedHere...); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		for _, tc := range []struct {
			ctx    context.Context
			prefix string
		}{{t1, "t1"}, {t2, "t2"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				revoked, err := s.SessionRevoked(tc.ctx, fmt.Sprintf("%s-s%d", tc.prefix, i))
				if err != nil || revoked != (i%3 == 0) {
					t.Errorf("%s session %d: revoked %v (%v), want %v", tc.prefix, i, revoked, err, i%3 == 0)
				}
			}()
		}
	}
	wg.Wait()
}

// TestCheckGivesUpWithItsRequest: a request that has ended is answered
// with an error, not "not revoked".
func TestCheckGivesUpWithItsRequest(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	s := c.Sessions(0, &revokedInPostgres{}, time.Minute)
	ctx, cancel := context.WithCancel(tenantCtx(t))
	cancel()
	if revoked, err := s.SessionRevoked(ctx, "s1"); err == nil {
		t.Fatalf("a cancelled request's check answered revoked=%v with no error", revoked)
	}
}
