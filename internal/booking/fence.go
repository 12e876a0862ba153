package booking

import (
	"context"

	"github.com/ticketd-io/ticketd/internal/batch"
	"github.com/ticketd-io/ticketd/internal/inventory"
)

// After a booking is written, its fence makes sure Redis still holds its
// tickets. Almost always it does, so the fences of concurrent bookings are
// batched like the group commit: one pipelined round trip asks Redis about
// every waiting hold, and only a hold reported missing pays for a full
// Reassert.
const (
	maxFenceFlushers = 2
	maxFenceBatch    = 128
)

type fenceRequest struct {
	ev     inventory.Event
	holdID string
	done   chan bool
}

// fences batches the checks of whether Redis holds a hold now.
type fences struct {
	group batch.Group[*fenceRequest]
}

func newFences(heldNow func(ctx context.Context, evs []inventory.Event, holdIDs []string) ([]bool, error)) *fences {
	f := &fences{}
	f.group = batch.Group[*fenceRequest]{Flushers: maxFenceFlushers, Max: maxFenceBatch, Run: func(b []*fenceRequest) {
		evs := make([]inventory.Event, len(b))
		ids := make([]string, len(b))
		for i, r := range b {
			evs[i], ids[i] = r.ev, r.holdID
		}
		held, err := heldNow(context.Background(), evs, ids)
		for i, r := range b {
			r.done <- err == nil && held[i]
		}
	}}
	return f
}

// held reports whether Redis holds holdID now; false also when Redis could
// not be asked, which sends the caller to the full Reassert.
func (f *fences) held(ev inventory.Event, holdID string) bool {
	r := &fenceRequest{ev: ev, holdID: holdID, done: make(chan bool, 1)}
	f.group.Add(r)
	return <-r.done
}
