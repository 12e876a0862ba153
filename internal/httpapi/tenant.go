package httpapi

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"golang.org/x/sync/singleflight"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// HeaderTenant names the tenant (by slug) for API clients that call the
// platform host rather than the tenant's own.
const HeaderTenant = "X-Tenant"

// resolveTenant puts the tenant of the request into its context, trying in
// order: the custom domain of the host, <slug>.<PLATFORM_DOMAIN>, and the
// X-Tenant header. The host is the Host header, or X-Forwarded-Host when the
// peer is a trusted proxy (Fiber checks this because the app enables its
// trusted proxy check). Unknown and suspended tenants are the same 404.
func (s *Server) resolveTenant(c *fiber.Ctx) error {
	host := normalizeHost(utils.CopyString(c.Hostname()))
	slug, onPlatform := slugFromHost(host, s.cfg.PlatformDomain)
	domain := host
	if onPlatform {
		domain = "" // hosts under the platform domain are never custom domains
	}
	if slug == "" {
		slug = strings.ToLower(strings.TrimSpace(utils.CopyString(c.Get(HeaderTenant))))
	}
	t, err := s.tenants.resolve(c.UserContext(), domain, slug)
	if err != nil {
		return err
	}
	c.SetUserContext(ticketing.WithTenant(c.UserContext(), t))
	return c.Next()
}

// normalizeHost lowercases a host and strips its port and trailing dot.
func normalizeHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// slugFromHost returns the tenant slug of <slug>.<platformDomain>, and
// whether host lies on the platform domain at all. Reserved or malformed
// labels (www, api, ...) name no tenant.
func slugFromHost(host, platformDomain string) (slug string, onPlatform bool) {
	if host == platformDomain {
		return "", true
	}
	label, ok := strings.CutSuffix(host, "."+platformDomain)
	if !ok {
		return "", false
	}
	if strings.Contains(label, ".") || !ticketing.ValidSlug(label) {
		return "", true
	}
	return label, true
}

// The cache's bounds. Organizers found are kept up to maxCachedTenants. A
// cached organizer costs about 0.5 KB of heap (BenchmarkTenantCacheMemory,
// with 10,000), and ticketd's whole heap grows by about 0.9 KB per organizer
// resolved (`make bench` with BENCH_TENANTS=10000, docs/benchmarks.md):
// some 25 to 45 MB at the bound. Hosts and slugs that name no organizer are kept
// apart, up to maxCachedMisses: random Host headers, which anyone can send,
// then evict only other misses, never an organizer in the middle of its
// on-sale. A full side evicts one entry at random (Go's map order), not all
// of them, so a working set near the bound does not reload at once.
const (
	maxCachedTenants = 50_000
	maxCachedMisses  = 10_000
)

// tenantLookupTimeout bounds a lookup that concurrent requests share: it
// outlives the request that started it.
const tenantLookupTimeout = 5 * time.Second

// tenantCache resolves tenants through the TenantService and keeps each
// answer, found or not, for a short TTL. A change of a tenant (its status,
// domains, branding) or a new tenant takes effect on this instance at once,
// since the API that makes it forgets the tenant, and on the others when the
// invalidation bus (Deps.Caches) tells them, within the TTL at worst.
// Concurrent resolutions of one uncached key share one lookup.
type tenantCache struct {
	svc     ticketing.TenantService
	ttl     time.Duration
	metrics *telemetry.Metrics
	lookups singleflight.Group

	mu     sync.Mutex
	found  map[string]tenantEntry
	misses map[string]time.Time // key → when the miss expires
	// generation counts purges: an answer looked up before a purge is not
	// cached after it, or a suspension could be undone by a slow lookup.
	generation uint64
	// maxFound and maxMisses are the bounds (tests lower them).
	maxFound, maxMisses int
}

type tenantEntry struct {
	tenant  *ticketing.Tenant
	expires time.Time
}

func newTenantCache(svc ticketing.TenantService, ttl time.Duration, m *telemetry.Metrics) *tenantCache {
	tc := &tenantCache{svc: svc, ttl: ttl, metrics: m, found: map[string]tenantEntry{}, misses: map[string]time.Time{},
		maxFound: maxCachedTenants, maxMisses: maxCachedMisses}
	m.RegisterTenantCache(tc.size)
	return tc
}

var errTenantNotFound = ticketing.Errorf(ticketing.KindNotFound, ticketing.CodeTenantNotFound, "tenant not found")

// resolve returns the active tenant of domain or slug, or a TENANT_NOT_FOUND
// error. domain and slug must not alias Fiber's buffers: they become keys.
func (tc *tenantCache) resolve(ctx context.Context, domain, slug string) (*ticketing.Tenant, error) {
	if domain == "" && slug == "" {
		tc.metrics.TenantResolutions.WithLabelValues("not_found").Inc()
		return nil, errTenantNotFound
	}
	key := domain + "\x00" + slug
	now := time.Now()
	tc.mu.Lock()
	e, hit := tc.found[key]
	hit = hit && now.Before(e.expires)
	if !hit {
		if until, ok := tc.misses[key]; ok && now.Before(until) {
			tc.mu.Unlock()
			tc.metrics.TenantResolutions.WithLabelValues("not_found").Inc()
			return nil, errTenantNotFound
		}
	}
	gen := tc.generation
	tc.mu.Unlock()
	outcome := "cache_hit"
	if !hit {
		outcome = "lookup"
		v, err, _ := tc.lookups.Do(key+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tenantLookupTimeout)
			defer cancel()
			return tc.lookup(ctx, key, domain, slug, gen)
		})
		if err != nil {
			return nil, err
		}
		e.tenant = v.(*ticketing.Tenant)
	}
	if e.tenant == nil || !e.tenant.Active() {
		tc.metrics.TenantResolutions.WithLabelValues("not_found").Inc()
		return nil, errTenantNotFound
	}
	tc.metrics.TenantResolutions.WithLabelValues(outcome).Inc()
	return e.tenant, nil
}

// lookup reads the tenant of key from Postgres and caches the answer (nil
// when there is none) unless a purge came after gen.
func (tc *tenantCache) lookup(ctx context.Context, key, domain, slug string, gen uint64) (*ticketing.Tenant, error) {
	t, err := tc.svc.ResolveTenant(ctx, domain, slug)
	if err != nil && ticketing.ErrorKind(err) != ticketing.KindNotFound {
		return nil, err
	}
	expires := time.Now().Add(tc.ttl)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.generation != gen {
		return t, nil
	}
	if t == nil {
		evictOne(tc.misses, tc.maxMisses)
		tc.misses[key] = expires
	} else {
		evictOne(tc.found, tc.maxFound)
		tc.found[key] = tenantEntry{tenant: t, expires: expires}
	}
	return t, nil
}

// evictOne removes an entry of m, any one, when m holds max or more.
func evictOne[V any](m map[string]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

// size returns how many organizers and misses are cached (the gauges).
func (tc *tenantCache) size() (found, misses int) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return len(tc.found), len(tc.misses)
}

// TenantCacheKind names the tenant cache on the invalidation bus; its keys
// are tenant ids.
const TenantCacheKind = "tenant"

// forget forgets the answers naming tenant id, and every "not found" (the
// change may be a new tenant or domain).
func (tc *tenantCache) forget(id string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for k, e := range tc.found {
		if e.tenant.ID == id {
			delete(tc.found, k)
		}
	}
	clear(tc.misses)
	// Shared lookups are keyed by generation: none from before is reused.
	tc.generation++
}

// tenantChanged forgets what this instance cached of tenant id and has the
// other instances forget it. Call it after the change committed.
func (s *Server) tenantChanged(id string) {
	s.tenants.forget(id)
	if s.deps.Caches != nil {
		s.deps.Caches.Publish(TenantCacheKind, id)
	}
}

// purge forgets every cached answer.
func (tc *tenantCache) purge() {
	tc.mu.Lock()
	clear(tc.found)
	clear(tc.misses)
	tc.generation++
	tc.mu.Unlock()
}
