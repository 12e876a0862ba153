package redis

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed ratelimit.lua
var rateLimitSource string

// rateLimitScript runs by EVALSHA and falls back to EVAL when Redis has
// lost its script cache (restart, failover).
var rateLimitScript = goredis.NewScript(rateLimitSource)

// Limit is one counter of a rate limit: at most Max calls per window for a
// subject (for example an IP address or an email) of a tenant.
type Limit struct {
	Subject string
	Max     int
}

// RateLimiter counts calls in fixed windows shared by every API instance.
type RateLimiter struct {
	c      *Client
	name   string
	window time.Duration
}

// NewRateLimiter returns a limiter named name (part of its keys) with the
// given window.
func (c *Client) NewRateLimiter(name string, window time.Duration) *RateLimiter {
	return &RateLimiter{c: c, name: name, window: window}
}

// Allow counts one call against every limit and returns zero when all of
// them allow it, else how long until the call would be allowed. Subjects are
// hashed, so no email address or IP is stored in Redis in the clear.
func (l *RateLimiter) Allow(ctx context.Context, tenantID string, limits ...Limit) (time.Duration, error) {
	keys := make([]string, len(limits))
	args := make([]any, 0, len(limits)+1)
	args = append(args, l.window.Milliseconds())
	for i, lim := range limits {
		sum := sha256.Sum256([]byte(lim.Subject))
		// One hash tag per tenant keeps the keys in one Redis Cluster slot.
		keys[i] = l.c.Key(fmt.Sprintf("rl:{t:%s}:%s:%d:%s", tenantID, l.name, i, hex.EncodeToString(sum[:12])))
		args = append(args, strconv.Itoa(lim.Max))
	}
	ms, err := rateLimitScript.Run(ctx, l.c.UniversalClient, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: rate limit: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
