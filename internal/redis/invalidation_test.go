package redis_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/redistest"
)

// busProcess is one process's end of the bus, with what its caches were
// told.
type busProcess struct {
	bus *redis.Invalidations

	mu        sync.Mutex
	forgot    map[string][]string // kind → keys
	cleared   int                 // forgetAll calls of the "sale" cache
	published map[string]int
	received  map[string]int
	dropped   map[string]int
}

func (p *busProcess) InvalidationsPublished(kind string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published[kind] += n
}

func (p *busProcess) InvalidationReceived(kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.received[kind]++
}

func (p *busProcess) InvalidationsDropped(reason string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped[reason] += n
}

func (p *busProcess) InvalidationsResubscribed() {}

// state reads the process's records under its lock.
func (p *busProcess) state(read func(p *busProcess) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return read(p)
}

func (p *busProcess) forgotKey(kind, key string) bool {
	return p.state(func(p *busProcess) bool { return slices.Contains(p.forgot[kind], key) })
}

func (p *busProcess) clearedTimes() int {
	var n int
	p.state(func(p *busProcess) bool { n = p.cleared; return true })
	return n
}

// startBus runs a bus on its own connection to rawURL under prefix, with
// "sale" and "session" caches, until the test ends, and waits for its
// subscription.
func startBus(t *testing.T, rawURL, prefix string) *busProcess {
	t.Helper()
	p := &busProcess{forgot: map[string][]string{}, published: map[string]int{}, received: map[string]int{}, dropped: map[string]int{}}
	p.bus = runBus(t, rawURL, prefix, p, func(bus *redis.Invalidations) {
		for _, kind := range []string{"sale", "session"} {
			bus.Handle(kind, func(key string) {
				p.mu.Lock()
				defer p.mu.Unlock()
				p.forgot[kind] = append(p.forgot[kind], key)
			}, func() {
				p.mu.Lock()
				defer p.mu.Unlock()
				if kind == "sale" {
					p.cleared++
				}
			})
		}
	})
	waitUntil(t, "the bus subscribed", func() bool { return p.clearedTimes() >= 1 })
	return p
}

// runBus runs a bus on its own connection to rawURL under prefix until the
// test ends, once register has given it its caches.
func runBus(t *testing.T, rawURL, prefix string, obs redis.InvalidationObserver, register func(*redis.Invalidations)) *redis.Invalidations {
	t.Helper()
	c, err := redis.Open(t.Context(), rawURL, prefix)
	if err != nil {
		t.Fatal(err)
	}
	bus := c.Invalidations(slog.New(slog.NewTextHandler(io.Discard, nil)), obs)
	register(bus)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close()
	})
	return bus
}

// waitUntil polls cond for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInvalidationReachesTheOtherProcessesNotItself: a key published by
// one process is forgotten by the other; the publisher, which forgot it
// itself, skips its own message. Messages reach one subscriber in the order
// Redis ran their PUBLISH, so once A hears B's later key it has heard its
// own earlier one, had it not skipped it.
func TestInvalidationReachesTheOtherProcessesNotItself(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	a := startBus(t, redistest.URL(), rdb.Prefix)
	b := startBus(t, redistest.URL(), rdb.Prefix)

	a.bus.Publish("sale", "tenant-1|event-1")
	a.bus.Publish("session", "session-1")
	waitUntil(t, "B forgot A's sale and session", func() bool {
		return b.forgotKey("sale", "tenant-1|event-1") && b.forgotKey("session", "session-1")
	})
	b.bus.Publish("sale", "tenant-1|event-2")
	waitUntil(t, "A forgot B's sale", func() bool { return a.forgotKey("sale", "tenant-1|event-2") })
	if a.forgotKey("sale", "tenant-1|event-1") {
		t.Error("A applied its own message")
	}
	if !a.state(func(p *busProcess) bool { return p.published["sale"] == 1 && p.published["session"] == 1 }) {
		t.Errorf("A's published counts = %v, want one sale and one session", a.published)
	}
	if !b.state(func(p *busProcess) bool { return p.received["sale"] == 1 && p.received["session"] == 1 }) {
		t.Errorf("B's received counts = %v, want one sale and one session", b.received)
	}
}

// TestInvalidationOfAnotherPrefixIsIgnored: two deployments (or tests)
// sharing a Redis do not hear each other.
func TestInvalidationOfAnotherPrefixIsIgnored(t *testing.T) {
	t.Parallel()
	ours, theirs := redistest.New(t), redistest.New(t)
	listener := startBus(t, redistest.URL(), ours.Prefix)
	other := startBus(t, redistest.URL(), theirs.Prefix)
	publisher := startBus(t, redistest.URL(), ours.Prefix)

	other.bus.Publish("sale", "their-key")
	waitUntil(t, "the other deployment published", func() bool {
		return other.state(func(p *busProcess) bool { return p.published["sale"] == 1 })
	})
	publisher.bus.Publish("sale", "our-key")
	waitUntil(t, "our key arrived", func() bool { return listener.forgotKey("sale", "our-key") })
	if listener.forgotKey("sale", "their-key") {
		t.Error("a key of another prefix was applied")
	}
}

// TestResubscribeClearsEveryCache: when the subscription's connection is
// lost, messages may be missed meanwhile, so every cache is cleared once
// go-redis has subscribed again; keys then arrive as before.
func TestResubscribeClearsEveryCache(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	px := newProxy(t)
	listener := startBus(t, px.url(t), rdb.Prefix)
	publisher := startBus(t, redistest.URL(), rdb.Prefix)

	px.cut()
	waitUntil(t, "the caches cleared on the new subscription", func() bool { return listener.clearedTimes() >= 2 })
	publisher.bus.Publish("sale", "after-reconnect")
	waitUntil(t, "a key after the reconnection", func() bool { return listener.forgotKey("sale", "after-reconnect") })
}

// TestPublishDoesNotWaitForAnAbsentRedis: with Redis unreachable, Publish
// still returns at once; what cannot be sent or queued is counted.
func TestPublishDoesNotWaitForAnAbsentRedis(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	px := newProxy(t)
	p := startBus(t, px.url(t), rdb.Prefix)
	px.close()
	for i := range 5000 {
		p.bus.Publish("sale", "key-"+strings.Repeat("x", i%10))
	}
	p.bus.Publish("sale", strings.Repeat("k", 300))
	waitUntil(t, "drops counted", func() bool {
		return p.state(func(p *busProcess) bool {
			return p.dropped["queue_full"] > 0 && p.dropped["publish_failed"] > 0 && p.dropped["too_long"] == 1
		})
	})
}

// TestUnreadableMessageClearsEveryCache: a message the process cannot read
// (another version, a stray publisher) may have named anything.
func TestUnreadableMessageClearsEveryCache(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	p := startBus(t, redistest.URL(), rdb.Prefix)
	channel := rdb.Key("cache:invalidations")
	unknown, _ := json.Marshal(map[string]any{"from": "elsewhere", "items": []any{map[string]string{"kind": "nope", "key": "k"}}})
	if err := rdb.Publish(t.Context(), channel, unknown).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Publish(t.Context(), channel, "not json").Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the caches cleared", func() bool { return p.clearedTimes() >= 2 })
	if !p.state(func(p *busProcess) bool { return p.dropped["unknown_kind"] == 1 && p.dropped["malformed"] == 1 }) {
		t.Errorf("dropped = %v, want one unknown_kind and one malformed", p.dropped)
	}
}

// proxy forwards TCP connections to the test Redis, and can cut them.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: u.Host}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// url is the test Redis's URL through the proxy.
func (p *proxy) url(t *testing.T) string {
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *proxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

// cut closes every connection through the proxy; new ones are accepted.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// close stops accepting and cuts: Redis is gone.
func (p *proxy) close() {
	_ = p.ln.Close()
	p.cut()
}
