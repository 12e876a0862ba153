// Package batch combines concurrent calls into batches, as a group commit
// does: a caller queues its item; when fewer than Flushers are running it
// starts one, which runs every queued item, Max at a time, until the queue is
// empty. Under light load a batch is one item and nothing waits; under load
// one round trip serves many callers. Items carry their own way to answer
// (typically a buffered channel).
//
// A flusher is a goroutine of its own, not the caller's: under a sustained
// load the queue may not empty for seconds, and a caller that flushed it
// would answer its own request only then.
package batch

import "sync"

// Group batches items of type T. Its zero value is not usable: set
// Flushers, Max and Run.
type Group[T any] struct {
	Flushers int
	Max      int
	Run      func(batch []T)

	mu      sync.Mutex
	pending []T
	running int
}

// Add queues item, and starts a flusher when fewer than Flushers are
// running. It returns at once; the caller then waits for item's own answer.
func (g *Group[T]) Add(item T) {
	g.mu.Lock()
	g.pending = append(g.pending, item)
	flush := g.running < g.Flushers
	if flush {
		g.running++
	}
	g.mu.Unlock()
	if flush {
		go g.flush()
	}
}

func (g *Group[T]) flush() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), g.Max)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		b := make([]T, n)
		copy(b, g.pending)
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.Run(b)
	}
}
