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
//
// With Owner set, the queue is fair between owners (tenants): each owner's
// items wait in a queue of their own, and a batch takes one item of each
// waiting owner in turn. An owner with a thousand items queued then delays
// another's next item by one batch slot, not by its thousand items.
package batch

import "sync"

// Group batches items of type T. Its zero value is not usable: set
// Flushers, Max and Run.
type Group[T any] struct {
	Flushers int
	Max      int
	Run      func(batch []T)
	// Owner, when set, names whose an item is, for fair turns.
	Owner func(T) string

	mu      sync.Mutex
	queues  map[string][]T // queued items by owner ("" without Owner)
	turns   []string       // owners with queued items, next first
	pending int
	running int
}

// Add queues item, and starts a flusher when fewer than Flushers are
// running. It returns at once; the caller then waits for item's own answer.
func (g *Group[T]) Add(item T) {
	owner := ""
	if g.Owner != nil {
		owner = g.Owner(item)
	}
	g.mu.Lock()
	if g.queues == nil {
		g.queues = map[string][]T{}
	}
	q, waiting := g.queues[owner]
	if !waiting {
		g.turns = append(g.turns, owner)
	}
	g.queues[owner] = append(q, item)
	g.pending++
	flush := g.running < g.Flushers
	if flush {
		g.running++
	}
	g.mu.Unlock()
	if flush {
		go g.flush()
	}
}

// Pending returns how many items are queued and not yet taken by a flusher.
func (g *Group[T]) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending
}

func (g *Group[T]) flush() {
	for {
		g.mu.Lock()
		n := min(g.pending, g.Max)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		b := g.take(n)
		g.mu.Unlock()
		g.Run(b)
	}
}

// take removes n queued items, one of each owner in turn; an owner whose
// queue is not empty afterwards takes its next turn after the others.
func (g *Group[T]) take(n int) []T {
	b := make([]T, 0, n)
	if len(g.turns) == 1 {
		// One owner: its queue in order, without turning.
		owner := g.turns[0]
		q := g.queues[owner]
		b = append(b, q[:n]...)
		g.settle(owner, q[n:])
		g.turns = g.turns[:0]
		if len(q) > n {
			g.turns = append(g.turns, owner)
		}
		return b
	}
	for len(b) < n {
		owner := g.turns[0]
		g.turns = g.turns[1:]
		q := g.queues[owner]
		b = append(b, q[0])
		g.settle(owner, q[1:])
		if len(q) > 1 {
			g.turns = append(g.turns, owner)
		}
	}
	return b
}

// settle keeps the rest of an owner's queue after taking, or forgets the
// owner when nothing is left.
func (g *Group[T]) settle(owner string, rest []T) {
	g.pending -= len(g.queues[owner]) - len(rest)
	if len(rest) == 0 {
		delete(g.queues, owner)
		return
	}
	g.queues[owner] = rest
}
