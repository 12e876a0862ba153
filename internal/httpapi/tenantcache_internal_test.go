package httpapi

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// fakeTenants resolves slugs "org-<n>" to active tenants and nothing else,
// counting lookups; while gate is not nil, lookups wait for it to close.
type fakeTenants struct {
	ticketing.TenantService
	lookups atomic.Int64
	gate    chan struct{}
}

func (f *fakeTenants) ResolveTenant(_ context.Context, domain, slug string) (*ticketing.Tenant, error) {
	f.lookups.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	var n int
	if _, err := fmt.Sscanf(slug, "org-%d", &n); err != nil || domain != "" {
		return nil, ticketing.Errorf(ticketing.KindNotFound, ticketing.CodeTenantNotFound, "tenant not found")
	}
	return sampleTenant(n), nil
}

// sampleTenant is an organizer as Postgres returns one: a slug, a name,
// a custom domain and its branding.
func sampleTenant(n int) *ticketing.Tenant {
	now := time.Now().UTC()
	return &ticketing.Tenant{
		ID: fmt.Sprintf("0196a0c8-%04x-7000-8000-%012x", n%0xffff, n), Slug: fmt.Sprintf("org-%d", n),
		Name: fmt.Sprintf("Organizer number %d Productions", n), Status: ticketing.TenantActive, Currency: "NGN",
		Domains: []string{fmt.Sprintf("tickets.org-%d.example", n)}, CreatedAt: now, UpdatedAt: now,
		PaystackSubaccount: "ACCT_abcdefgh1234", PlatformFeeBps: 250,
		LogoURL: fmt.Sprintf("https://cdn.org-%d.example/brand/logo.png", n), AccentColor: "#4f46e5",
	}
}

func newTestTenantCache(svc ticketing.TenantService) *tenantCache {
	return newTenantCache(svc, time.Hour, telemetry.New("test"))
}

// TestTenantCacheBounds: organizers and misses are bounded apart, so a
// flood of unknown hosts never evicts an organizer, and a full side loses
// one entry, not all of them.
func TestTenantCacheBounds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc := &fakeTenants{}
	tc := newTestTenantCache(svc)
	tc.maxFound, tc.maxMisses = 3, 5
	for n := range 3 {
		if _, err := tc.resolve(ctx, "", fmt.Sprintf("org-%d", n)); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 100 {
		if _, err := tc.resolve(ctx, fmt.Sprintf("random-%d.example", n), ""); ticketing.ErrorKind(err) != ticketing.KindNotFound {
			t.Fatalf("unknown host: %v", err)
		}
	}
	if found, misses := tc.size(); found != 3 || misses != 5 {
		t.Fatalf("cached %d organizers and %d misses, want 3 and 5", found, misses)
	}
	before := svc.lookups.Load()
	for n := range 3 {
		if _, err := tc.resolve(ctx, "", fmt.Sprintf("org-%d", n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := svc.lookups.Load() - before; got != 0 {
		t.Fatalf("%d lookups after a flood of unknown hosts, want 0: the organizers were evicted", got)
	}
	if _, err := tc.resolve(ctx, "", "org-3"); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for n := range 3 {
		if _, ok := tc.found["\x00"+fmt.Sprintf("org-%d", n)]; ok {
			kept++
		}
	}
	if _, ok := tc.found["\x00org-3"]; !ok || kept != 2 {
		t.Fatalf("after a fourth organizer in a cache of 3, %d of the first three are kept, want 2 (one evicted, not all)", kept)
	}
}

// TestTenantCacheSharesLookups: the requests that find a tenant uncached at
// once (an on-sale's first second, or the moment its entry expires) wait for
// one lookup, not one each.
func TestTenantCacheSharesLookups(t *testing.T) {
	t.Parallel()
	svc := &fakeTenants{gate: make(chan struct{})}
	tc := newTestTenantCache(svc)
	const n = 50
	var started, wg sync.WaitGroup
	started.Add(n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			started.Done()
			_, err := tc.resolve(context.Background(), "", "org-1")
			errs <- err
		})
	}
	started.Wait()
	// Every goroutine is on its way; let the lookup finish once the first
	// one is in it.
	deadline := time.Now().Add(30 * time.Second)
	for svc.lookups.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	close(svc.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Goroutines scheduled after the shared lookup ended find the cached
	// answer; none looks up again.
	if got := svc.lookups.Load(); got != 1 {
		t.Fatalf("%d lookups for %d concurrent resolutions, want 1", got, n)
	}
}

// TestTenantCachePurgeDuringLookup: a lookup that began before a purge (a
// suspension) is not cached after it.
func TestTenantCachePurgeDuringLookup(t *testing.T) {
	t.Parallel()
	svc := &fakeTenants{gate: make(chan struct{})}
	tc := newTestTenantCache(svc)
	done := make(chan error, 1)
	go func() {
		_, err := tc.resolve(context.Background(), "", "org-1")
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for svc.lookups.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	tc.purge()
	close(svc.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if found, _ := tc.size(); found != 0 {
		t.Fatalf("a lookup from before the purge was cached")
	}
}

// BenchmarkTenantCacheMemory measures the heap one cached organizer costs
// (bytes/tenant), with 10,000 of them: the figure README and
// docs/benchmarks.md give for sizing the cache.
func BenchmarkTenantCacheMemory(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	var perTenant float64
	for b.Loop() {
		tc := newTestTenantCache(&fakeTenants{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			if _, err := tc.resolve(ctx, "", fmt.Sprintf("org-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perTenant = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(tc)
	}
	b.ReportMetric(perTenant, "bytes/tenant")
}
