// Package cache keeps what a process loaded from Postgres for a while, per
// key, without ever making a hot key's readers wait together for a reload.
//
// A value younger than the TTL is served as it is. An older one, up to twice
// the TTL, is still served while one background load replaces it, so the
// requests of an on-sale never stall behind the read that refreshes their
// event. Only a key never loaded, or not read for two TTLs, waits for its
// load, which concurrent readers share. A change is therefore seen within the
// TTL plus one load, as long as the key is read; Invalidate forgets a key at
// once, and a load that began before it is not kept.
//
// A cache that every instance keeps is shared through a Bus: Changed then
// forgets the key in the other processes too, within the bus's delivery
// time, and the TTL bounds what a lost message can leave stale.
package cache

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Load reads the value of a key. Its context keeps the caller's values (the
// tenant, for row-level security) but not its cancellation: a shared load
// outlives the request that started it.
type Load[V any] func(ctx context.Context) (V, error)

// Cache holds values of type V by key.
type Cache[V any] struct {
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time

	entries sync.Map // key → *entry[V]
	loads   singleflight.Group
	// epoch counts invalidations: a load that began before one is not
	// stored, nor shared with a reader that came after it. mu orders
	// stores and invalidations.
	mu    sync.Mutex
	epoch atomic.Uint64

	// bus and kind are set by Share.
	bus  Bus
	kind string
}

// Bus carries invalidations between the processes that keep the same
// caches (redis.Invalidations). Kinds name the caches, keys their entries.
type Bus interface {
	// Publish tells the other processes that key of kind changed. It is
	// called after the change committed, and never blocks or fails: the
	// TTL bounds what an undelivered message leaves stale.
	Publish(kind, key string)
	// Handle has the bus call forget with each key of kind another process
	// publishes, and forgetAll whenever messages may have been missed.
	Handle(kind string, forget func(key string), forgetAll func())
}

type entry[V any] struct {
	value      V
	loaded     time.Time
	refreshing atomic.Bool
}

// New returns a cache whose values are fresh for ttl (0: every Get loads)
// and whose loads give up after timeout.
func New[V any](ttl, timeout time.Duration) *Cache[V] {
	return &Cache[V]{ttl: ttl, timeout: timeout, now: time.Now}
}

// SetClock replaces the clock (tests); call it before the cache is used.
func (c *Cache[V]) SetClock(now func() time.Time) { c.now = now }

// Get returns the value of key, loading it with load when the cache has none
// young enough to serve.
func (c *Cache[V]) Get(ctx context.Context, key string, load Load[V]) (V, error) {
	if v, ok := c.entries.Load(key); ok {
		e := v.(*entry[V])
		age := c.now().Sub(e.loaded)
		if age < c.ttl {
			return e.value, nil
		}
		if age < 2*c.ttl {
			if e.refreshing.CompareAndSwap(false, true) {
				go c.refresh(ctx, key, e, load)
			}
			return e.value, nil
		}
	}
	epoch := c.epoch.Load()
	v, err, _ := c.loads.Do(flight(key, epoch), func() (any, error) { return c.load(ctx, key, epoch, nil, load) })
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

// refresh replaces the stale entry old in the background. On failure old
// stays until it is too old to serve, and the next reader after that waits
// for a load (and sees its error).
func (c *Cache[V]) refresh(ctx context.Context, key string, old *entry[V], load Load[V]) {
	epoch := c.epoch.Load()
	_, _, _ = c.loads.Do(flight(key, epoch), func() (any, error) { return c.load(ctx, key, epoch, old, load) })
	old.refreshing.Store(false)
}

// flight names the shared load of key in epoch.
func flight(key string, epoch uint64) string {
	return strconv.FormatUint(epoch, 36) + "|" + key
}

// load reads key and stores it unless an invalidation came after epoch or,
// for a refresh of old, another load replaced it.
func (c *Cache[V]) load(ctx context.Context, key string, epoch uint64, old *entry[V], load Load[V]) (any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	started := c.now()
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	e := &entry[V]{value: v, loaded: started}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch.Load() == epoch {
		if old != nil {
			c.entries.CompareAndSwap(key, old, e)
		} else {
			c.entries.Store(key, e)
		}
	}
	return v, nil
}

// Share makes c the cache of kind that every process keeps: Changed
// publishes on bus, and what the other processes publish is forgotten here.
// Call it before c is used.
func (c *Cache[V]) Share(bus Bus, kind string) {
	c.bus, c.kind = bus, kind
	bus.Handle(kind, c.Invalidate, c.InvalidateAll)
}

// Changed forgets key here and, when c is shared, in every other process.
// Call it after the change committed.
func (c *Cache[V]) Changed(key string) {
	c.Invalidate(key)
	if c.bus != nil {
		c.bus.Publish(c.kind, key)
	}
}

// InvalidateAll forgets every key, as Invalidate forgets one.
func (c *Cache[V]) InvalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.entries.Clear()
}

// Invalidate forgets key: the next Get loads it.
func (c *Cache[V]) Invalidate(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	c.entries.Delete(key)
}
