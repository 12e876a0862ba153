package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(ttl time.Duration) (*Cache[int], *clock) {
	clk := &clock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	c := New[int](ttl, 10*time.Second)
	c.SetClock(clk.Now)
	return c, clk
}

// counter is a load that returns how many times it ran.
func counter(n *atomic.Int64) Load[int] {
	return func(context.Context) (int, error) { return int(n.Add(1)), nil }
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func get(t *testing.T, c *Cache[int], key string, load Load[int]) int {
	t.Helper()
	v, err := c.Get(context.Background(), key, load)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func TestFreshValueIsServedWithoutLoading(t *testing.T) {
	t.Parallel()
	c, clk := newCache(time.Second)
	var n atomic.Int64
	if v := get(t, c, "a", counter(&n)); v != 1 {
		t.Fatalf("first Get = %d, want 1", v)
	}
	clk.Add(999 * time.Millisecond)
	if v := get(t, c, "a", counter(&n)); v != 1 || n.Load() != 1 {
		t.Fatalf("Get within the TTL = %d after %d loads, want 1 after 1", v, n.Load())
	}
	if v := get(t, c, "b", counter(&n)); v != 2 {
		t.Fatalf("another key = %d, want its own load (2)", v)
	}
}

func TestStaleValueIsServedWhileOneRefreshRuns(t *testing.T) {
	t.Parallel()
	c, clk := newCache(time.Second)
	var n atomic.Int64
	release := make(chan struct{})
	slow := func(context.Context) (int, error) {
		if n.Load() > 0 {
			<-release
		}
		return int(n.Add(1)), nil
	}
	get(t, c, "a", slow)
	clk.Add(1500 * time.Millisecond)
	// Many readers of a stale key: all get the old value at once, and one
	// refresh starts (it blocks until released).
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v := get(t, c, "a", slow); v != 1 {
				t.Errorf("stale Get = %d, want the old value 1", v)
			}
		}()
	}
	wg.Wait()
	close(release)
	waitFor(t, "the refresh", func() bool { return get(t, c, "a", slow) == 2 })
	if n.Load() != 2 {
		t.Fatalf("%d loads, want 2 (one refresh for all the stale readers)", n.Load())
	}
}

func TestTooOldValueWaitsForItsLoad(t *testing.T) {
	t.Parallel()
	c, clk := newCache(time.Second)
	var n atomic.Int64
	get(t, c, "a", counter(&n))
	clk.Add(2 * time.Second)
	if v := get(t, c, "a", counter(&n)); v != 2 {
		t.Fatalf("Get after two TTLs = %d, want a fresh load (2)", v)
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	t.Parallel()
	c, _ := newCache(time.Second)
	var n atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	load := func(context.Context) (int, error) {
		once.Do(func() { close(started) })
		<-release
		return int(n.Add(1)), nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v := get(t, c, "a", load); v != 1 {
				t.Errorf("Get = %d, want 1", v)
			}
		}()
	}
	<-started
	close(release)
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d loads for 20 concurrent misses, want 1", n.Load())
	}
}

func TestInvalidateDropsALoadThatBeganBeforeIt(t *testing.T) {
	t.Parallel()
	c, _ := newCache(time.Minute)
	started, release := make(chan struct{}), make(chan struct{})
	old := func(context.Context) (int, error) {
		close(started)
		<-release
		return 1, nil
	}
	done := make(chan int)
	go func() { done <- get(t, c, "a", old) }()
	<-started
	// The value changes while the old read is in flight.
	c.Invalidate("a")
	var n atomic.Int64
	n.Store(1)
	if v := get(t, c, "a", counter(&n)); v != 2 {
		t.Fatalf("Get after Invalidate = %d, want its own load (2), not the read in flight", v)
	}
	close(release)
	if v := <-done; v != 1 {
		t.Fatalf("the reader before Invalidate got %d, want 1", v)
	}
	if v := get(t, c, "a", counter(&n)); v != 2 {
		t.Fatalf("cached value = %d, want 2: the load that began before Invalidate must not be stored", v)
	}
}

func TestFailedRefreshKeepsTheOldValueUntilItIsTooOld(t *testing.T) {
	t.Parallel()
	c, clk := newCache(time.Second)
	get(t, c, "a", func(context.Context) (int, error) { return 1, nil })
	boom := errors.New("postgres is away")
	var fails atomic.Int64
	failing := func(context.Context) (int, error) { fails.Add(1); return 0, boom }
	clk.Add(1500 * time.Millisecond)
	if v := get(t, c, "a", failing); v != 1 {
		t.Fatalf("stale Get = %d, want 1", v)
	}
	waitFor(t, "the failed refresh", func() bool { return fails.Load() >= 1 })
	clk.Add(time.Second)
	if _, err := c.Get(context.Background(), "a", failing); !errors.Is(err, boom) {
		t.Fatalf("Get after two TTLs with Postgres away: %v, want the load's error", err)
	}
}

func TestZeroTTLLoadsEveryTime(t *testing.T) {
	t.Parallel()
	c, _ := newCache(0)
	var n atomic.Int64
	get(t, c, "a", counter(&n))
	if v := get(t, c, "a", counter(&n)); v != 2 {
		t.Fatalf("second Get with TTL 0 = %d, want 2", v)
	}
}

func TestACancelledReaderDoesNotCancelTheSharedLoad(t *testing.T) {
	t.Parallel()
	c, _ := newCache(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := c.Get(ctx, "a", func(ctx context.Context) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 7, nil
	})
	if err != nil || v != 7 {
		t.Fatalf("Get with a cancelled context = %d, %v; want 7 (the load keeps the values, not the cancellation)", v, err)
	}
}

// fakeBus is a Bus between caches of one test: a publish reaches the
// handlers of every other cache of its kind.
type fakeBus struct {
	mu        sync.Mutex
	forget    map[string][]func(string)
	forgetAll []func()
}

func (b *fakeBus) Publish(kind, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.forget[kind] {
		f(key)
	}
}

func (b *fakeBus) Handle(kind string, forget func(string), forgetAll func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.forget == nil {
		b.forget = map[string][]func(string){}
	}
	b.forget[kind] = append(b.forget[kind], forget)
	b.forgetAll = append(b.forgetAll, forgetAll)
}

func TestChangedForgetsTheKeyInEverySharedCache(t *testing.T) {
	t.Parallel()
	bus := &fakeBus{}
	a, _ := newCache(time.Minute)
	b, _ := newCache(time.Minute)
	a.Share(bus, "sale")
	b.Share(bus, "sale")
	var n atomic.Int64
	get(t, a, "k", counter(&n))
	get(t, b, "k", counter(&n))
	get(t, b, "other", counter(&n))
	a.Changed("k")
	if v := get(t, b, "k", counter(&n)); v != 4 {
		t.Fatalf("b's k after a's Changed = %d, want a new load (4)", v)
	}
	if v := get(t, b, "other", counter(&n)); v != 3 {
		t.Fatalf("b's other key = %d, want it kept (3)", v)
	}
}

func TestInvalidateAllForgetsEveryKeyAndTheLoadsInFlight(t *testing.T) {
	t.Parallel()
	c, _ := newCache(time.Minute)
	var n atomic.Int64
	get(t, c, "a", counter(&n))
	get(t, c, "b", counter(&n))
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan int)
	go func() {
		done <- get(t, c, "c", func(context.Context) (int, error) { close(started); <-release; return 100, nil })
	}()
	<-started
	c.InvalidateAll()
	close(release)
	<-done
	for _, key := range []string{"a", "b", "c"} {
		before := n.Load()
		if v := get(t, c, key, counter(&n)); v != int(before)+1 {
			t.Fatalf("%s after InvalidateAll = %d, want a new load", key, v)
		}
	}
}
