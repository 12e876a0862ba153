package booking

import (
	"context"
	"sync"

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

// fenceBatcher queues checks and runs at most maxFenceFlushers at once.
type fenceBatcher struct {
	heldNow func(ctx context.Context, evs []inventory.Event, holdIDs []string) ([]bool, error)

	mu      sync.Mutex
	pending []*fenceRequest
	running int
}

// held reports whether Redis holds holdID now; false also when Redis could
// not be asked, which sends the caller to the full Reassert.
func (f *fenceBatcher) held(ev inventory.Event, holdID string) bool {
	r := &fenceRequest{ev: ev, holdID: holdID, done: make(chan bool, 1)}
	f.mu.Lock()
	f.pending = append(f.pending, r)
	flush := f.running < maxFenceFlushers
	if flush {
		f.running++
	}
	f.mu.Unlock()
	if flush {
		f.flush()
	}
	return <-r.done
}

func (f *fenceBatcher) flush() {
	for {
		f.mu.Lock()
		n := min(len(f.pending), maxFenceBatch)
		if n == 0 {
			f.running--
			f.mu.Unlock()
			return
		}
		batch := make([]*fenceRequest, n)
		copy(batch, f.pending)
		f.pending = f.pending[n:]
		f.mu.Unlock()

		evs := make([]inventory.Event, n)
		ids := make([]string, n)
		for i, r := range batch {
			evs[i], ids[i] = r.ev, r.holdID
		}
		held, err := f.heldNow(context.Background(), evs, ids)
		for i, r := range batch {
			r.done <- err == nil && held[i]
		}
	}
}
