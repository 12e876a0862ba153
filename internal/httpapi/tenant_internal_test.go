package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// tenantsBySlug is a TenantService that knows tenants by slug and counts
// its lookups.
type tenantsBySlug struct {
	ticketing.TenantService

	mu      sync.Mutex
	tenants map[string]*ticketing.Tenant
	lookups map[string]int
}

func (f *tenantsBySlug) ResolveTenant(_ context.Context, _, slug string) (*ticketing.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups[slug]++
	if t, ok := f.tenants[slug]; ok {
		return t, nil
	}
	return nil, errTenantNotFound
}

// TestForgetTenantDropsItsAnswersAndTheUnknownOnly: another instance's
// change of tenant a (or a new tenant) must reach a's answers and the "not
// found" ones, and may leave the other tenants' answers cached.
func TestForgetTenantDropsItsAnswersAndTheUnknownOnly(t *testing.T) {
	svc := &tenantsBySlug{lookups: map[string]int{}, tenants: map[string]*ticketing.Tenant{
		"a": {ID: "id-a", Slug: "a", Status: ticketing.TenantActive},
		"b": {ID: "id-b", Slug: "b", Status: ticketing.TenantActive},
	}}
	tc := newTenantCache(svc, time.Hour, telemetry.New("test"))
	ctx := context.Background()
	for _, slug := range []string{"a", "b", "c"} {
		_, _ = tc.resolve(ctx, "", slug)
	}
	svc.mu.Lock()
	svc.tenants["a"] = &ticketing.Tenant{ID: "id-a", Slug: "a", Status: ticketing.TenantSuspended}
	svc.tenants["c"] = &ticketing.Tenant{ID: "id-c", Slug: "c", Status: ticketing.TenantActive}
	svc.mu.Unlock()

	tc.forget("id-a")
	if _, err := tc.resolve(ctx, "", "a"); err == nil {
		t.Error("a resolves after it was suspended and forgotten")
	}
	if _, err := tc.resolve(ctx, "", "c"); err != nil {
		t.Errorf("c, cached as unknown before it was created: %v", err)
	}
	_, _ = tc.resolve(ctx, "", "b")
	if got := svc.lookups; got["a"] != 2 || got["b"] != 1 || got["c"] != 2 {
		t.Errorf("lookups = %v, want a and c looked up again, b still cached", got)
	}
}
