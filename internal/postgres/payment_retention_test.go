package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/postgres"
)

// TestForgetWebhooksKeepsRecentEvents: old webhook events go, recent ones
// and redeliveries of them stay.
func TestForgetWebhooksKeepsRecentEvents(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	store := postgres.NewPaymentStore(db.App)
	ctx := context.Background()
	for i, body := range []string{"old", "new"} {
		first, err := store.RecordWebhook(ctx, body, "charge.success", "bk-x-1", []byte(`{"n":`+string(rune('0'+i))+`}`))
		if err != nil || !first {
			t.Fatalf("record %s: %v %v", body, first, err)
		}
	}
	if first, err := store.RecordWebhook(ctx, "new", "charge.success", "bk-x-1", []byte(`{}`)); err != nil || first {
		t.Fatalf("a redelivery is not first: %v %v", first, err)
	}
	if _, err := db.Admin.Exec(ctx, "UPDATE webhook_events SET received_at = now() - interval '100 days' WHERE body_sha256 = 'old'"); err != nil {
		t.Fatal(err)
	}
	n, err := store.ForgetWebhooks(ctx, 90*24*time.Hour, 100)
	if err != nil || n != 1 {
		t.Fatalf("forgot %d (%v), want 1", n, err)
	}
	var left []string
	rows, err := db.Admin.Query(ctx, "SELECT body_sha256 FROM webhook_events")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	if len(left) != 1 || left[0] != "new" {
		t.Fatalf("left %v, want [new]", left)
	}
}
