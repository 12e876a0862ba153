package redis_test

import (
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redistest"
)

// TestRevocationReachesEveryInstance: the instance that revokes a session
// refuses it at once; another instance, which remembered "not revoked",
// refuses it once its CheckTTL has passed.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	const checkTTL = 200 * time.Millisecond
	c := redistest.New(t)
	here, there := c.Sessions(checkTTL), c.Sessions(checkTTL)
	ctx := t.Context()
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
