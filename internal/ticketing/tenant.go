// Package ticketing holds the domain of the ticketing platform: its types, the
// rules that need no infrastructure, the service interfaces that storage
// implements, and the one application error type. It imports no web
// framework, database or cache package.
package ticketing

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
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
	// LogoURL is the absolute http(s) URL of the storefront's logo, ""
	// for none; AccentColor its accent colour as #rrggbb in lowercase.
	// With Name they are the storefront's branding, which the organizer's
	// ADMINs change themselves.
	LogoURL     string
	AccentColor string
}

// DefaultAccentColor is the accent colour of a storefront that has not
// chosen one.
const DefaultAccentColor = "#4f46e5"

// MaxLogoURLBytes bounds the length of a logo URL.
const MaxLogoURLBytes = 2048

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
	// LogoURL is optional; AccentColor defaults to DefaultAccentColor.
	LogoURL     string
	AccentColor string
	Admin       NewUser
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
	validateLogoURL(&p, &n.LogoURL)
	if strings.TrimSpace(n.AccentColor) == "" {
		n.AccentColor = DefaultAccentColor
	}
	validateAccentColor(&p, &n.AccentColor)
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
	// LogoURL is "" (no logo) or an absolute http(s) URL; AccentColor a
	// #rrggbb colour.
	LogoURL     *string
	AccentColor *string
}

var subaccountPattern = regexp.MustCompile(`^ACCT_[A-Za-z0-9]+$`)

// Validate normalizes the update and reports every problem with it.
func (u *TenantUpdate) Validate() error {
	var p Problems
	if u.Name == nil && u.Status == nil && u.Currency == nil && u.PaystackSubaccount == nil && u.PlatformFeeBps == nil &&
		u.LogoURL == nil && u.AccentColor == nil {
		p.Addf(true, "at least one of name, status, currency, paystackSubaccount, platformFeeBps, logoUrl or accentColor must be given")
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
	validateBranding(&p, u.LogoURL, u.AccentColor)
	return p.Err()
}

// TenantSettingsUpdate is an organizer's change to its own storefront: its
// display name and branding. nil fields are unchanged.
type TenantSettingsUpdate struct {
	Name        *string
	LogoURL     *string
	AccentColor *string
}

// Validate normalizes the update and reports every problem with it.
func (u *TenantSettingsUpdate) Validate() error {
	var p Problems
	p.Addf(u.Name == nil && u.LogoURL == nil && u.AccentColor == nil, "at least one of name, logoUrl or accentColor must be given")
	if u.Name != nil {
		validateName(&p, "name", trimPtr(u.Name))
	}
	validateBranding(&p, u.LogoURL, u.AccentColor)
	return p.Err()
}

// validateBranding normalizes and checks the branding fields of an update
// that are given.
func validateBranding(p *Problems, logoURL, accentColor *string) {
	if logoURL != nil {
		validateLogoURL(p, logoURL)
	}
	if accentColor != nil {
		validateAccentColor(p, accentColor)
	}
}

// validateLogoURL trims a logo URL and lowercases its scheme. A logo is
// shown by browsers on the storefront, so only plain web addresses are
// taken: no javascript: or data: URL, no credentials, and nothing a browser
// would read differently from this check (spaces, control characters, and
// backslashes, which browsers take for slashes).
func validateLogoURL(p *Problems, s *string) {
	*s = strings.TrimSpace(*s)
	if *s == "" {
		return
	}
	if len(*s) > MaxLogoURLBytes {
		p.Addf(true, "logoUrl must be at most %d bytes", MaxLogoURLBytes)
		return
	}
	if !utf8.ValidString(*s) || strings.IndexFunc(*s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' }) >= 0 {
		p.Addf(true, "logoUrl must be text without spaces, backslashes or control characters")
		return
	}
	u, err := url.Parse(*s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		p.Addf(true, "logoUrl must be an absolute http or https URL, such as https://example.com/logo.png, or empty for no logo")
		return
	}
	if u.User != nil {
		p.Addf(true, "logoUrl must not contain a user name or password")
		return
	}
	*s = u.Scheme + (*s)[len(u.Scheme):]
}

var colorPattern = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// validateAccentColor trims and lowercases a colour and checks that it is
// #rrggbb.
func validateAccentColor(p *Problems, c *string) {
	*c = strings.ToLower(strings.TrimSpace(*c))
	p.Addf(!colorPattern.MatchString(*c), "accentColor must be a hex colour #rrggbb, such as %s", DefaultAccentColor)
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

// TenantService manages tenants on behalf of platform operators, lets an
// organizer change its own storefront settings, and resolves the tenant of
// each storefront request.
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

	// UpdateTenantSettings applies an organizer's change to its own
	// storefront, the tenant of ctx, on behalf of the actor of ctx, and
	// returns the updated tenant. Returns KindInvalid for bad input.
	UpdateTenantSettings(ctx context.Context, u TenantSettingsUpdate) (*Tenant, error)

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
