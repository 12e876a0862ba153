package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/cache"
)

// Invalidations is the bus that carries cache invalidations between the
// processes of one deployment: each process keeps some data of Postgres in
// memory (tenants, sales, waiting rooms, "not revoked" answers), and a
// change committed by one must reach the caches of all.
//
// It is Redis pub/sub on one channel under the key prefix, so deployments
// and tests that share a Redis do not hear each other. Pub/sub is
// fire-and-forget: a message published while a subscriber is disconnected
// is lost to it. So whenever the subscription is confirmed, at start and
// after every reconnection go-redis makes, every cache it serves is
// forgotten whole. A change therefore reaches every instance within the
// delivery time (milliseconds), and while Redis is unreachable within each
// cache's TTL, which stays the bound of last resort.
//
// Publishing never blocks nor fails the change that publishes: the message
// waits in a bounded queue for the one goroutine that sends, and is counted
// as dropped when the queue is full or Redis refuses it.
type Invalidations struct {
	c       *Client
	channel string
	// origin tells this process's own messages apart: it has forgotten
	// their keys already.
	origin string
	logger *slog.Logger
	obs    InvalidationObserver

	mu       sync.Mutex
	handlers map[string]invalidationHandler

	queue chan invalidation
	// failing is whether the last batch failed (send's goroutine's).
	failing bool
}

var _ cache.Bus = (*Invalidations)(nil)

// InvalidationObserver counts what the bus does (telemetry.Metrics). Kinds
// are those handled or published by this process, so they bound the labels.
type InvalidationObserver interface {
	// InvalidationsPublished counts keys of kind sent to the other processes.
	InvalidationsPublished(kind string, n int)
	// InvalidationReceived counts a key of kind from another process.
	InvalidationReceived(kind string)
	// InvalidationsDropped counts keys not sent or not applied, by reason:
	// queue_full, publish_failed, too_long, malformed, unknown_kind.
	InvalidationsDropped(reason string, n int)
	// InvalidationsResubscribed counts the subscriptions confirmed, on
	// each of which every cache was forgotten.
	InvalidationsResubscribed()
}

type invalidationHandler struct {
	forget    func(key string)
	forgetAll func()
}

// invalidation is one changed key; a message carries a few.
type invalidation struct {
	Kind string `json:"kind"`
	Key  string `json:"key"`
}

// invalidationMessage is what goes over the channel.
type invalidationMessage struct {
	From  string         `json:"from"`
	Items []invalidation `json:"items"`
}

// Bounds of the bus: a key or kind longer than this is not published (the
// keys are ids), a message carries at most maxInvalidationBatch keys (so at
// most some 20 KiB), a received message larger than maxInvalidationMessage
// is not read, and at most invalidationQueue keys wait to be sent.
const (
	maxInvalidationKey     = 256
	maxInvalidationBatch   = 64
	maxInvalidationMessage = 64 << 10
	invalidationQueue      = 1024
	// publishTimeout bounds one send, so that a Redis outage fills the
	// queue rather than holding it.
	publishTimeout = 2 * time.Second
)

// Invalidations returns the bus on the deployment's channel. Register the
// caches with Handle, then Run it.
func (c *Client) Invalidations(logger *slog.Logger, obs InvalidationObserver) *Invalidations {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Invalidations{c: c, channel: c.Key("cache:invalidations"), origin: hex.EncodeToString(b),
		logger: logger, obs: obs, handlers: map[string]invalidationHandler{}, queue: make(chan invalidation, invalidationQueue)}
}

// Handle implements cache.Bus: forget is called with each key of kind that
// another process publishes, and forgetAll on every subscription confirmed.
// Register a kind once, before Run.
func (b *Invalidations) Handle(kind string, forget func(key string), forgetAll func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[kind] = invalidationHandler{forget: forget, forgetAll: forgetAll}
}

// Publish implements cache.Bus. It only queues the key: call it after the
// change committed, and it returns at once whatever Redis does.
func (b *Invalidations) Publish(kind, key string) {
	if len(kind) > maxInvalidationKey || len(key) > maxInvalidationKey {
		b.obs.InvalidationsDropped("too_long", 1)
		return
	}
	select {
	case b.queue <- invalidation{Kind: kind, Key: key}:
	default:
		b.obs.InvalidationsDropped("queue_full", 1)
	}
}

// Send publishes one key at once and returns Redis's answer: for the
// commands that change something and exit, which run no bus.
func (b *Invalidations) Send(ctx context.Context, kind, key string) error {
	return b.publish(ctx, []invalidation{{Kind: kind, Key: key}})
}

// Run subscribes and sends what is published until ctx is done, then sends
// what is still queued (for at most publishTimeout) and returns.
func (b *Invalidations) Run(ctx context.Context) {
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		b.send(ctx)
	}()
	b.subscribe(ctx)
	<-sent
}

// subscribe applies the other processes' messages until ctx is done.
func (b *Invalidations) subscribe(ctx context.Context) {
	ps := b.c.Subscribe(ctx, b.channel)
	defer func() { _ = ps.Close() }()
	// go-redis pings the connection when it is quiet and reconnects, then
	// subscribes again, when it is lost: each confirmation comes here.
	ch := ps.ChannelWithSubscriptions(goredis.WithChannelSize(256))
	confirmed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *goredis.Subscription:
				if m.Kind != "subscribe" {
					continue
				}
				confirmed++
				if confirmed > 1 {
					b.logger.Warn("cache invalidations subscribed again: messages may have been missed, every shared cache is cleared")
				}
				b.forgetAll()
				b.obs.InvalidationsResubscribed()
			case *goredis.Message:
				b.receive(m.Payload)
			}
		}
	}
}

// forgetAll clears every cache the bus serves.
func (b *Invalidations) forgetAll() {
	b.mu.Lock()
	handlers := make([]invalidationHandler, 0, len(b.handlers))
	for _, h := range b.handlers {
		handlers = append(handlers, h)
	}
	b.mu.Unlock()
	for _, h := range handlers {
		h.forgetAll()
	}
}

// receive applies one message. One that cannot be read may have named
// anything, so it clears every cache, as a missed one would have.
func (b *Invalidations) receive(payload string) {
	var m invalidationMessage
	if len(payload) > maxInvalidationMessage || json.Unmarshal([]byte(payload), &m) != nil {
		b.obs.InvalidationsDropped("malformed", 1)
		b.logger.Warn("unreadable cache invalidation: every shared cache is cleared", "bytes", len(payload))
		b.forgetAll()
		return
	}
	if m.From == b.origin {
		return
	}
	for _, it := range m.Items {
		b.mu.Lock()
		h, ok := b.handlers[it.Kind]
		b.mu.Unlock()
		if !ok {
			b.obs.InvalidationsDropped("unknown_kind", 1)
			continue
		}
		h.forget(it.Key)
		b.obs.InvalidationReceived(it.Kind)
	}
}

// send publishes the queued keys, a batch at a time, until ctx is done.
func (b *Invalidations) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			b.flush()
			return
		case first := <-b.queue:
			pctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
			b.sendBatch(pctx, first)
			cancel()
		}
	}
}

// flush sends, for at most publishTimeout in all, what is queued when the
// bus stops: the changes of the requests that finished while the API
// drained.
func (b *Invalidations) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	for {
		select {
		case first := <-b.queue:
			b.sendBatch(ctx, first)
		default:
			return
		}
	}
}

// sendBatch publishes first and what else is queued, up to
// maxInvalidationBatch keys, each once. A failure is logged when the
// previous batch went out, but not retried: the other processes forget
// everything when their subscription comes back, and their TTLs bound the
// rest.
func (b *Invalidations) sendBatch(ctx context.Context, first invalidation) {
	items := []invalidation{first}
	seen := map[invalidation]bool{first: true}
queued:
	for len(items) < maxInvalidationBatch {
		select {
		case it := <-b.queue:
			if !seen[it] {
				seen[it] = true
				items = append(items, it)
			}
		default:
			break queued
		}
	}
	err := b.publish(ctx, items)
	switch {
	case err != nil && !b.failing:
		b.failing = true
		b.logger.Warn("cache invalidations not published: other instances see changes within their cache TTLs",
			"keys", len(items), "error", err.Error())
	case err == nil && b.failing:
		b.failing = false
		b.logger.Info("cache invalidations published again")
	}
}

// publish sends one message of items, and counts them.
func (b *Invalidations) publish(ctx context.Context, items []invalidation) error {
	payload, err := json.Marshal(invalidationMessage{From: b.origin, Items: items})
	if err == nil {
		err = b.c.Publish(ctx, b.channel, payload).Err()
	}
	if err != nil {
		b.obs.InvalidationsDropped("publish_failed", len(items))
		return err
	}
	counts := map[string]int{}
	for _, it := range items {
		counts[it.Kind]++
	}
	for kind, n := range counts {
		b.obs.InvalidationsPublished(kind, n)
	}
	return nil
}
