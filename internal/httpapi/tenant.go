package httpapi

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

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

// maxCachedTenants bounds the cache, which random Host headers could
// otherwise grow without limit.
const maxCachedTenants = 10_000

// tenantCache resolves tenants through the TenantService and keeps each
// answer, found or not, for a short TTL. A change of a tenant (its status,
// domains, branding) or a new tenant takes effect on this instance at once,
// since the API that makes it forgets the tenant, and on the others when the
// invalidation bus (Deps.Caches) tells them, within the TTL at worst.
type tenantCache struct {
	svc     ticketing.TenantService
	ttl     time.Duration
	metrics *telemetry.Metrics

	mu      sync.Mutex
	entries map[string]tenantEntry
	// generation counts purges: an answer looked up before a purge is not
	// cached after it, or a suspension could be undone by a slow lookup.
	generation uint64
}

type tenantEntry struct {
	tenant  *ticketing.Tenant // nil when not found
	expires time.Time
}

func newTenantCache(svc ticketing.TenantService, ttl time.Duration, m *telemetry.Metrics) *tenantCache {
	return &tenantCache{svc: svc, ttl: ttl, metrics: m, entries: map[string]tenantEntry{}}
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
	e, ok := tc.entries[key]
	gen := tc.generation
	tc.mu.Unlock()
	outcome := "cache_hit"
	if !ok || now.After(e.expires) {
		outcome = "lookup"
		t, err := tc.svc.ResolveTenant(ctx, domain, slug)
		if err != nil && ticketing.ErrorKind(err) != ticketing.KindNotFound {
			return nil, err
		}
		e = tenantEntry{tenant: t, expires: now.Add(tc.ttl)}
		tc.mu.Lock()
		if len(tc.entries) >= maxCachedTenants {
			clear(tc.entries)
		}
		if tc.generation == gen {
			tc.entries[key] = e
		}
		tc.mu.Unlock()
	}
	if e.tenant == nil || !e.tenant.Active() {
		tc.metrics.TenantResolutions.WithLabelValues("not_found").Inc()
		return nil, errTenantNotFound
	}
	tc.metrics.TenantResolutions.WithLabelValues(outcome).Inc()
	return e.tenant, nil
}

// TenantCacheKind names the tenant cache on the invalidation bus; its keys
// are tenant ids.
const TenantCacheKind = "tenant"

// forget forgets the answers naming tenant id, and every "not found" (the
// change may be a new tenant or domain).
func (tc *tenantCache) forget(id string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for k, e := range tc.entries {
		if e.tenant == nil || e.tenant.ID == id {
			delete(tc.entries, k)
		}
	}
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
	clear(tc.entries)
	tc.generation++
	tc.mu.Unlock()
}
