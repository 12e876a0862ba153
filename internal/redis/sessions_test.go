package redis_test

import (
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redistest"
)

// TestRevocationReachesEveryInstance: the instance that revokes a session
// refuses it at once; another instance, which remembered "not revoked",
// refuses it within its CheckTTL.
func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	c := redistest.New(t)
	here, there := c.Sessions(200*time.Millisecond), c.Sessions(200*time.Millisecond)
	ctx := t.Context()
	if revoked, err := there.SessionRevoked(ctx, "s1"); err != nil || revoked {
		t.Fatalf("fresh session: %v %v", revoked, err)
	}
	if _, err := here.SessionRevoked(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := here.RevokeSessions(ctx, time.Minute, "s1"); err != nil {
		t.Fatal(err)
	}
	if revoked, _ := here.SessionRevoked(ctx, "s1"); !revoked {
		t.Fatal("the revoking instance still accepts the session")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if revoked, _ := there.SessionRevoked(ctx, "s1"); revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("another instance accepts a revoked session beyond its CheckTTL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
