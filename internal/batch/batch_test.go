package batch

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestGroupRunsEveryItemOnceInBoundedBatches adds items from many
// goroutines: each is run exactly once, no batch exceeds Max, and no more
// than Flushers run at once.
func TestGroupRunsEveryItemOnceInBoundedBatches(t *testing.T) {
	var running, maxRunning atomic.Int64
	seen := make([]atomic.Int64, 1000)
	g := &Group[int]{Flushers: 2, Max: 16, Run: func(b []int) {
		if n := running.Add(1); n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		defer running.Add(-1)
		if len(b) > 16 {
			t.Errorf("batch of %d", len(b))
		}
		for _, i := range b {
			seen[i].Add(1)
		}
	}}
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() { defer wg.Done(); g.Add(i) }()
	}
	wg.Wait()
	// Add returns once queued: wait until the flushers have drained.
	for {
		g.mu.Lock()
		idle := len(g.pending) == 0 && g.running == 0
		g.mu.Unlock()
		if idle {
			break
		}
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("item %d ran %d times", i, seen[i].Load())
		}
	}
	if maxRunning.Load() > 2 {
		t.Fatalf("%d flushers ran at once", maxRunning.Load())
	}
}
