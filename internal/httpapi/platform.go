package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// requirePlatformKey admits requests whose bearer token is the platform API
// key. Both sides are hashed first so that the constant-time comparison does
// not reveal the key's length either.
func (s *Server) requirePlatformKey(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if s.cfg.PlatformAPIKey == "" || !ok {
		return errPlatformKey
	}
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.cfg.PlatformAPIKey))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return errPlatformKey
	}
	c.SetUserContext(ticketing.WithActor(c.UserContext(), ticketing.SystemActor(ticketing.PlatformActor)))
	return c.Next()
}

var errPlatformKey = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeUnauthorized,
	"a valid platform API key is required as Authorization: Bearer <PLATFORM_API_KEY>")

// tenantResponse is a tenant as the platform API shows it.
type tenantResponse struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Currency  string    `json:"currency"`
	Domains   []string  `json:"domains"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// PaystackSubaccount receives the tenant's payments less the
	// platform fee (PlatformFeeBps basis points); "" when not set.
	PaystackSubaccount string `json:"paystackSubaccount"`
	PlatformFeeBps     int    `json:"platformFeeBps"`
	// LogoURL ("" for none) and AccentColor are the storefront's branding.
	LogoURL     string `json:"logoUrl"`
	AccentColor string `json:"accentColor"`
}

func toTenantResponse(t *ticketing.Tenant) tenantResponse {
	domains := t.Domains
	if domains == nil {
		domains = []string{}
	}
	return tenantResponse{
		ID: t.ID, Slug: t.Slug, Name: t.Name, Status: string(t.Status), Currency: t.Currency,
		Domains: domains, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		PaystackSubaccount: t.PaystackSubaccount, PlatformFeeBps: t.PlatformFeeBps,
		LogoURL: t.LogoURL, AccentColor: t.AccentColor,
	}
}

type createTenantRequest struct {
	Slug        string        `json:"slug"`
	Name        string        `json:"name"`
	Currency    string        `json:"currency"`
	LogoURL     string        `json:"logoUrl"`
	AccentColor string        `json:"accentColor"`
	Admin       signupRequest `json:"admin"`
}

func (s *Server) createTenant(c *fiber.Ctx) error {
	var req createTenantRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, admin, err := s.deps.Tenants.CreateTenant(c.UserContext(), ticketing.NewTenant{
		Slug: req.Slug, Name: req.Name, Currency: req.Currency, LogoURL: req.LogoURL, AccentColor: req.AccentColor,
		Admin: ticketing.NewUser{Email: req.Admin.Email, Password: req.Admin.Password, Name: req.Admin.Name},
	})
	if err != nil {
		return err
	}
	s.tenantChanged(t.ID) // this host may have been cached as unknown
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"tenant": toTenantResponse(t), "admin": toUserResponse(admin)})
}

func (s *Server) listTenants(c *fiber.Ctx) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := ticketing.TenantFilter{Page: page}
	if st := c.Query("status"); st != "" {
		status := ticketing.TenantStatus(st)
		if status != ticketing.TenantActive && status != ticketing.TenantSuspended {
			return invalid("status must be one of active, suspended")
		}
		f.Status = &status
	}
	tenants, next, err := s.deps.Tenants.FindTenants(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(tenants, toTenantResponse, next))
}

func (s *Server) getTenant(c *fiber.Ctx) error {
	id, err := pathID(c, "tenant")
	if err != nil {
		return err
	}
	t, err := s.deps.Tenants.FindTenantByID(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toTenantResponse(t))
}

type updateTenantRequest struct {
	Name               *string `json:"name"`
	Status             *string `json:"status"`
	Currency           *string `json:"currency"`
	PaystackSubaccount *string `json:"paystackSubaccount"`
	PlatformFeeBps     *int    `json:"platformFeeBps"`
	LogoURL            *string `json:"logoUrl"`
	AccentColor        *string `json:"accentColor"`
}

func (s *Server) updateTenant(c *fiber.Ctx) error {
	id, err := pathID(c, "tenant")
	if err != nil {
		return err
	}
	var req updateTenantRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u := ticketing.TenantUpdate{Name: req.Name, Currency: req.Currency, PaystackSubaccount: req.PaystackSubaccount, PlatformFeeBps: req.PlatformFeeBps,
		LogoURL: req.LogoURL, AccentColor: req.AccentColor}
	if req.Status != nil {
		st := ticketing.TenantStatus(*req.Status)
		u.Status = &st
	}
	t, err := s.deps.Tenants.UpdateTenant(c.UserContext(), id, u)
	if err != nil {
		return err
	}
	s.tenantChanged(t.ID)
	return c.JSON(toTenantResponse(t))
}

type domainRequest struct {
	Domain string `json:"domain"`
}

func (s *Server) addTenantDomain(c *fiber.Ctx) error {
	id, err := pathID(c, "tenant")
	if err != nil {
		return err
	}
	var req domainRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	domain, err := ticketing.NormalizeDomain(req.Domain, s.cfg.PlatformDomain)
	if err != nil {
		return err
	}
	t, err := s.deps.Tenants.AddTenantDomain(c.UserContext(), id, domain)
	if err != nil {
		return err
	}
	s.tenantChanged(t.ID)
	return c.Status(fiber.StatusCreated).JSON(toTenantResponse(t))
}

func (s *Server) removeTenantDomain(c *fiber.Ctx) error {
	id, err := pathID(c, "tenant")
	if err != nil {
		return err
	}
	domain := strings.ToLower(c.Params("domain"))
	t, err := s.deps.Tenants.RemoveTenantDomain(c.UserContext(), id, strings.Clone(domain))
	if err != nil {
		return err
	}
	s.tenantChanged(t.ID)
	return c.JSON(toTenantResponse(t))
}
