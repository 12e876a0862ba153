package batch

import (
	"fmt"
	"slices"
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
		idle := g.pending == 0 && g.running == 0
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

// TestOwnersTakeTurns: while one owner has a long queue, another owner's
// items go into the next batch, one per turn, and each owner's items keep
// their order.
func TestOwnersTakeTurns(t *testing.T) {
	blocked, release := make(chan struct{}), make(chan struct{})
	batches := make(chan []string, 100)
	g := &Group[string]{Flushers: 1, Max: 8, Owner: func(s string) string { return s[:1] }, Run: func(b []string) {
		if b[0] == "block" {
			close(blocked)
			<-release
		}
		batches <- b
	}}
	g.Add("block") // holds the flusher while the others queue
	<-blocked
	for i := range 40 {
		g.Add(fmt.Sprintf("a%02d", i))
	}
	g.Add("c0")
	g.Add("c1")
	g.Add("d0")
	close(release)
	if b := <-batches; b[0] != "block" {
		t.Fatalf("first batch %v", b)
	}
	got := <-batches
	want := []string{"a00", "c0", "d0", "a01", "c1", "a02", "a03", "a04"}
	if !slices.Equal(got, want) {
		t.Fatalf("second batch %v, want %v", got, want)
	}
	var rest []string
	for len(rest) < 40-5 {
		rest = append(rest, <-batches...)
	}
	for i, s := range rest {
		if s != fmt.Sprintf("a%02d", i+5) {
			t.Fatalf("owner a's items out of order: %v", rest)
		}
	}
}
