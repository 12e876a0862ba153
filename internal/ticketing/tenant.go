// Package ticketing holds the domain of the ticketing platform: its types, the
// rules that need no infrastructure, the service interfaces that storage
// implements, and the one application error type. It imports no web
// framework, database or cache package.
package ticketing

import (
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TenantStatus is the lifecycle state of an organizer.
type TenantStatus string

// Tenant statuses. A suspended tenant's storefront and API answer 404.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
)

// Tenant is an organizer running a storefront on the platform.
type Tenant struct {
	ID        string
	Slug      string
	Name      string
	Status    TenantStatus
	Currency  string
	Domains   []string
	CreatedAt time.Time
	UpdatedAt time.Time
	// PaystackSubaccount (ACCT_...) receives the tenant's payments, less
	// the platform fee of PlatformFeeBps basis points; "" pays the
	// platform account.
	PaystackSubaccount string
	PlatformFeeBps     int
}

// Active reports whether the tenant may serve requests.
func (t *Tenant) Active() bool { return t.Status == TenantActive }

// Currencies are the ISO 4217 codes Paystack settles in, sorted.
var Currencies = []string{"GHS", "KES", "NGN", "USD", "ZAR"}

// reservedSlugs cannot be tenant slugs because they are, or may become,
// platform host names under PLATFORM_DOMAIN.
var reservedSlugs = []string{
	"admin", "api", "app", "assets", "auth", "billing", "blog", "cdn", "dashboard",
	"dev", "docs", "grafana", "help", "internal", "mail", "metrics", "platform",
	"prometheus", "static", "status", "support", "test", "www",
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidSlug reports whether s can name a tenant: 3 to 40 lowercase letters,
// digits and single inner hyphens, and not reserved.
func ValidSlug(s string) bool {
	return len(s) >= 3 && len(s) <= 40 && slugPattern.MatchString(s) && !slices.Contains(reservedSlugs, s)
}

// NewTenant is the input to create a tenant with its first admin account.
type NewTenant struct {
	Slug     string
	Name     string
	Currency string
	Admin    NewUser
}

// Validate normalizes the input and reports every problem with it.
func (n *NewTenant) Validate() error {
	n.Slug = strings.TrimSpace(n.Slug)
	n.Name = strings.TrimSpace(n.Name)
	n.Currency = strings.ToUpper(strings.TrimSpace(n.Currency))
	var p Problems
	p.Addf(!ValidSlug(n.Slug), "slug must be 3-40 lowercase letters, digits or inner hyphens and not reserved (%s)", strings.Join(reservedSlugs, ", "))
	validateName(&p, "name", n.Name)
	validateCurrency(&p, n.Currency)
	n.Admin.Role = RoleAdmin
	n.Admin.validate(&p, "admin.")
	return p.Err()
}

// TenantUpdate is a partial update of a tenant; nil fields are unchanged.
type TenantUpdate struct {
	Name     *string
	Status   *TenantStatus
	Currency *string
	// PaystackSubaccount is "" (none) or a subaccount code ACCT_...;
	// PlatformFeeBps the platform's share of each payment in basis points.
	PaystackSubaccount *string
	PlatformFeeBps     *int
}

var subaccountPattern = regexp.MustCompile(`^ACCT_[A-Za-z0-9]+$`)

// Validate normalizes the update and reports every problem with it.
func (u *TenantUpdate) Validate() error {
	var p Problems
	if u.Name == nil && u.Status == nil && u.Currency == nil && u.PaystackSubaccount == nil && u.PlatformFeeBps == nil {
		p.Addf(true, "at least one of name, status, currency, paystackSubaccount or platformFeeBps must be given")
	}
	if u.PaystackSubaccount != nil {
		*u.PaystackSubaccount = strings.TrimSpace(*u.PaystackSubaccount)
		p.Addf(*u.PaystackSubaccount != "" && !subaccountPattern.MatchString(*u.PaystackSubaccount), "paystackSubaccount must be a Paystack subaccount code (ACCT_...) or empty")
	}
	p.Addf(u.PlatformFeeBps != nil && (*u.PlatformFeeBps < 0 || *u.PlatformFeeBps > 10000), "platformFeeBps must be between 0 and 10000")
	if u.Name != nil {
		validateName(&p, "name", trimPtr(u.Name))
	}
	if u.Status != nil {
		p.Addf(*u.Status != TenantActive && *u.Status != TenantSuspended, "status must be one of active, suspended")
	}
	if u.Currency != nil {
		*u.Currency = strings.ToUpper(strings.TrimSpace(*u.Currency))
		validateCurrency(&p, *u.Currency)
	}
	return p.Err()
}

// validateName checks the name of a tenant or a person.
func validateName(p *Problems, field, name string) {
	p.Addf(name == "" || utf8.RuneCountInString(name) > 120, "%s must be 1-120 characters", field)
}

func validateCurrency(p *Problems, c string) {
	p.Addf(!slices.Contains(Currencies, c), "currency must be one of %s", strings.Join(Currencies, ", "))
}

// NormalizeDomain lowercases a custom domain and checks that it is a fully
// qualified host name that is not an IP address and does not lie under the
// platform's own domain, whose hosts are tenant slugs.
func NormalizeDomain(domain, platformDomain string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	var p Problems
	p.Addf(!validHostname(d) || net.ParseIP(d) != nil, "domain must be a fully qualified host name such as tickets.example.com")
	p.Addf(d == platformDomain || strings.HasSuffix(d, "."+platformDomain), "domain must not be under the platform domain %s", platformDomain)
	return d, p.Err()
}

var labelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validHostname(h string) bool {
	labels := strings.Split(h, ".")
	if len(h) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return false
		}
	}
	return true
}

// TenantFilter selects tenants in the platform listing.
type TenantFilter struct {
	Status *TenantStatus
	Page   Page
}

// Page asks for one page of a cursor-paginated list.
type Page struct {
	// Limit is the page size; services clamp it to [1, MaxPageSize].
	Limit int
	// Cursor is the opaque position returned as NextCursor by the previous page.
	Cursor string
}

// Page sizes of cursor-paginated lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Size returns the effective page size.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageSize
	case p.Limit > MaxPageSize:
		return MaxPageSize
	}
	return p.Limit
}

// TenantService manages tenants on behalf of platform operators, and resolves
// the tenant of each storefront request.
type TenantService interface {
	// CreateTenant creates an active tenant and its first ADMIN account in
	// one transaction. Returns KindInvalid for bad input and KindConflict
	// (SLUG_TAKEN) when the slug is in use.
	CreateTenant(ctx context.Context, n NewTenant) (*Tenant, *User, error)

	// FindTenantByID returns a tenant with its domains, or KindNotFound.
	FindTenantByID(ctx context.Context, id string) (*Tenant, error)

	// FindTenants returns one page of tenants, oldest first, and the cursor
	// of the next page ("" on the last page). Returns KindInvalid for a bad
	// cursor.
	FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, string, error)

	// UpdateTenant applies u and returns the updated tenant. Returns
	// KindInvalid for bad input and KindNotFound for an unknown id.
	UpdateTenant(ctx context.Context, id string, u TenantUpdate) (*Tenant, error)

	// AddTenantDomain maps a custom domain to a tenant. Returns KindInvalid
	// for a bad domain, KindNotFound for an unknown tenant and KindConflict
	// (DOMAIN_TAKEN) when any tenant already uses the domain.
	AddTenantDomain(ctx context.Context, id, domain string) (*Tenant, error)

	// RemoveTenantDomain unmaps a custom domain. Returns KindNotFound when
	// the tenant does not have it.
	RemoveTenantDomain(ctx context.Context, id, domain string) (*Tenant, error)

	// ResolveTenant returns the tenant that owns the custom domain host, else
	// the tenant with the given slug, else KindNotFound. Either argument may
	// be empty. Suspended tenants are returned; callers decide.
	ResolveTenant(ctx context.Context, host, slug string) (*Tenant, error)
}
