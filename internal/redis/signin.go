package redis

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed signin.lua
var signinSource string

var signinScript = goredis.NewScript(signinSource)

// SigninGuard throttles password guessing per organizer without letting
// anyone lock an account's owner out (signin.lua): only failures count; an
// address that fails an email too often waits out the window; past a number
// of failures of the email from all addresses, each address that already
// failed for it backs off exponentially, while one that never did is let
// through.
type SigninGuard struct {
	c *Client
	// PerAddress failures of one email from one address per Window;
	// PerEmail failures of one email from every address per Memory before
	// those addresses back off, up to MaxBackoff between attempts.
	PerAddress, PerEmail       int
	Window, Memory, MaxBackoff time.Duration
}

// NewSigninGuard returns a guard with the given limits, which remembers
// failures of an email for an hour and backs off up to 5 minutes.
func (c *Client) NewSigninGuard(perAddress, perEmail int, window time.Duration) *SigninGuard {
	return &SigninGuard{c: c, PerAddress: perAddress, PerEmail: perEmail, Window: window, Memory: time.Hour, MaxBackoff: 5 * time.Minute}
}

// Check returns how long the address must wait before it may try the email
// again (0: it may now).
func (g *SigninGuard) Check(ctx context.Context, tenantID, email, address string) (time.Duration, error) {
	return g.run(ctx, "check", tenantID, email, address)
}

// Failed records a failed sign-in of the email from the address.
func (g *SigninGuard) Failed(ctx context.Context, tenantID, email, address string) error {
	_, err := g.run(ctx, "fail", tenantID, email, address)
	return err
}

func (g *SigninGuard) run(ctx context.Context, mode, tenantID, email, address string) (time.Duration, error) {
	// Hashed: no email or address is stored in Redis in the clear. One
	// hash tag per tenant keeps the keys in one Redis Cluster slot.
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:12]) }
	e, pair := h(email), h(email+"\x00"+address)
	key := func(kind, id string) string { return g.c.Key(fmt.Sprintf("signin:{t:%s}:%s:%s", tenantID, kind, id)) }
	keys := []string{key("pair", pair), key("email", e), key("last", e), key("failed", pair)}
	ms, err := signinScript.Run(ctx, g.c.UniversalClient, keys, mode, time.Now().UnixMilli(), g.PerAddress, g.PerEmail,
		g.MaxBackoff.Milliseconds(), g.Window.Milliseconds(), g.Memory.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redis: sign-in guard: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
