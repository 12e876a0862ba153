package postgres

import (
	"context"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Queries exposes the loaded statements to the external tests.
func Queries() map[string]string { return queries }

// PendingInserts returns how many bookings wait for the group-commit writer.
func PendingInserts(s *BookingStore) int { return s.inserts.Pending() }

// ExplainUnwritten is what InsertBooking answers when the group commit left
// b out of its batch, as the store would explain it now.
func ExplainUnwritten(ctx context.Context, s *BookingStore, b *ticketing.Booking, idempotencyKey string) error {
	actor, _ := ticketing.ActorFromContext(ctx)
	return s.explainUnwritten(ctx, &insertRequest{booking: b, idempotencyKey: idempotencyKey,
		tenantID: ticketing.TenantFromContext(ctx).ID, actor: actor})
}
