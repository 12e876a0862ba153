// Package redistest gives each test its own namespace on a real Redis: a
// random key prefix on TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
// When the test ends it deletes the keys under its prefix and nothing else,
// so tests run in parallel, repeatedly, beside a developer's own data.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/ticketd-io/ticketd/internal/redis"
)

// DefaultURL is used when TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/15"

// New returns a client whose Prefix is unique to t.
func New(t testing.TB) *redis.Client {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	c, err := redis.Open(context.Background(), URL(), prefix)
	if err != nil {
		t.Fatalf("redistest: %v (set TEST_REDIS_URL)", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Unlink(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("redistest: clean %s*: %v", prefix, err)
		}
		_ = c.Close()
	})
	return c
}

// URL returns the Redis URL the tests use.
func URL() string {
	if url := os.Getenv("TEST_REDIS_URL"); url != "" {
		return url
	}
	return DefaultURL
}
