// Package redistest gives each test its own namespace on a real Redis: a
// random key prefix on TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
// When the test ends it deletes the keys under its prefix, and the asynq
// queues named after it that CleanupAsynqQueue was given (asynq keys cannot
// carry the prefix), and nothing else, so tests run in parallel, repeatedly,
// beside a developer's own data.
//
// ClusterURL and SentinelURL start a Redis Cluster and a Sentinel-watched
// primary from redis-server, once per test binary, for the tests that run
// ticketd on them (NewOn gives each test its prefix there too).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/ticketd-io/ticketd/internal/redis"
)

// DefaultURL is used when TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/15"

// New returns a client on URL whose Prefix is unique to t.
func New(t testing.TB) *redis.Client {
	t.Helper()
	return NewOn(t, URL())
}

// NewOn returns a client on url (ClusterURL, SentinelURL) whose Prefix is
// unique to t.
func NewOn(t testing.TB, url string) *redis.Client {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	c, err := redis.Open(context.Background(), url, prefix)
	if err != nil {
		t.Fatalf("redistest: %v (set TEST_REDIS_URL)", err)
	}
	unlink := func(ctx context.Context, key string) error { return c.Unlink(ctx, key).Err() }
	t.Cleanup(func() {
		ctx := context.Background()
		if err := c.ScanKeys(ctx, prefix+"*", unlink); err != nil {
			t.Errorf("redistest: clean %s*: %v", prefix, err)
		}
		_ = c.Close()
	})
	return c
}

// CleanupAsynqQueue removes the asynq queue named queue from c's database
// when t ends: every key under asynq:{queue}: (its task lists and tasks, the
// completed tasks asynq retains, and the processed and failed counters it
// keeps per queue, some without a TTL) and the queue's member of the
// asynq:queues set. asynq's own DeleteQueue leaves the counters and the
// completed tasks behind, and refuses a queue with a task still active.
//
// The queue must be named after c's namespace (New's random prefix), so that
// a test can only ever remove its own queue, never a developer's. Call it
// before starting anything that runs or feeds the queue: cleanups run last
// registered first, so it then runs after they stopped.
func CleanupAsynqQueue(t testing.TB, c *redis.Client, queue string) {
	t.Helper()
	ns := strings.TrimSuffix(strings.TrimPrefix(c.Prefix, "test:"), ":")
	if ns == "" || ns == c.Prefix || !strings.Contains(queue, ns) {
		t.Fatalf("redistest: queue %q is not named after the test's namespace %q", queue, c.Prefix)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		unlink := func(ctx context.Context, key string) error { return c.Unlink(ctx, key).Err() }
		if err := c.ScanKeys(ctx, GlobEscape("asynq:{"+queue+"}:")+"*", unlink); err != nil {
			t.Errorf("redistest: clean asynq queue %s: %v", queue, err)
		}
		if err := c.SRem(ctx, "asynq:queues", queue).Err(); err != nil {
			t.Errorf("redistest: clean asynq queue %s: %v", queue, err)
		}
	})
}

// GlobEscape quotes the characters SCAN's MATCH pattern treats as special.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// URL returns the Redis URL the tests use.
func URL() string {
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		return url
	}
	return DefaultURL
}
