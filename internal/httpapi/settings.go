package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// settingsResponse is what a storefront shows of its organizer: the display
// name, the branding and the currency prices are in.
type settingsResponse struct {
	Name        string `json:"name"`
	LogoURL     string `json:"logoUrl"`
	AccentColor string `json:"accentColor"`
	Currency    string `json:"currency"`
}

func toSettingsResponse(t *ticketing.Tenant) settingsResponse {
	return settingsResponse{Name: t.Name, LogoURL: t.LogoURL, AccentColor: t.AccentColor, Currency: t.Currency}
}

// getSettings answers from the tenant the request resolved to, which the
// tenant cache holds: a change forgets it there.
func (s *Server) getSettings(c *fiber.Ctx) error {
	return c.JSON(toSettingsResponse(ticketing.TenantFromContext(c.UserContext())))
}

type updateSettingsRequest struct {
	Name        *string `json:"name"`
	LogoURL     *string `json:"logoUrl"`
	AccentColor *string `json:"accentColor"`
}

func (s *Server) updateSettings(c *fiber.Ctx) error {
	var req updateSettingsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Tenants.UpdateTenantSettings(c.UserContext(),
		ticketing.TenantSettingsUpdate{Name: req.Name, LogoURL: req.LogoURL, AccentColor: req.AccentColor})
	if err != nil {
		return err
	}
	s.tenantChanged(t.ID)
	return c.JSON(toSettingsResponse(t))
}
