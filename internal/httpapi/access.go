package httpapi

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/authz"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Cookie names of the browser session. The refresh cookie is scoped to the
// auth routes so that it is not sent with every request.
const (
	cookieAccess      = "access_token"
	cookieRefresh     = "refresh_token"
	cookieRefreshPath = "/v1/auth"
	localAuthErr      = "authErr"
	localSessionID    = "sessionId"
)

// authenticate reads the access token (Authorization: Bearer, else the
// access_token cookie) and, when it is valid for this tenant and its session
// is not revoked, puts the user into the context. A missing or bad token
// leaves the request anonymous: public routes still work with a stale
// cookie, and authorize answers 401 on the others with the reason.
func (s *Server) authenticate(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		token = c.Cookies(cookieAccess)
		if token != "" {
			if err := sameOriginJSON(c); err != nil {
				return err
			}
		}
	}
	if token == "" {
		return c.Next()
	}
	claims, err := s.deps.Tokens.Parse(token)
	tenant := ticketing.TenantFromContext(c.UserContext())
	if err == nil && claims.TenantID != tenant.ID {
		err = errors.New("token of another organizer")
	}
	if err == nil {
		revoked, rerr := s.deps.Revocations.SessionRevoked(c.UserContext(), claims.SessionID)
		if rerr != nil {
			return ticketing.Internal(rerr)
		}
		if revoked {
			err = errors.New("session ended")
		}
	}
	if err != nil {
		c.Locals(localAuthErr, errInvalidAccessToken)
		return c.Next()
	}
	c.Locals(localSessionID, claims.SessionID)
	c.SetUserContext(ticketing.WithActor(c.UserContext(), ticketing.Actor{UserID: claims.UserID, Role: claims.Role}))
	return c.Next()
}

// errCrossSite refuses a cookie-authenticated change that may have been
// forged by another site.
var errCrossSite = ticketing.Errorf(ticketing.KindForbidden, ticketing.CodeForbidden,
	"a change authenticated by cookie must be sent as application/json from this organizer's own site (API clients send Authorization: Bearer)")

// sameOriginJSON guards the requests a cookie authenticates that change
// something against cross-site request forgery. SameSite=Lax is no guard
// here: the organizers' storefronts are sibling subdomains of one site. So
// such a request must be JSON (a form or a no-CORS fetch cannot send that
// Content-Type) and must come from the request's own host: its Origin, or
// else Sec-Fetch-Site: same-origin.
func sameOriginJSON(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return nil
	}
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON) {
		return errCrossSite
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || normalizeHost(u.Host) != normalizeHost(c.Hostname()) {
			return errCrossSite
		}
		return nil
	}
	if c.Get("Sec-Fetch-Site") != "same-origin" {
		return errCrossSite
	}
	return nil
}

var (
	errInvalidAccessToken = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeInvalidToken,
		"the access token is invalid, expired, revoked or for another organizer; refresh it or sign in again")
	errSignInRequired = ticketing.Errorf(ticketing.KindUnauthorized, ticketing.CodeUnauthorized, "sign in to do this")
	errForbidden      = ticketing.Errorf(ticketing.KindForbidden, ticketing.CodeForbidden, "your role may not do this")
)

// authorize asks the policy whether the caller's role may call the matched
// route pattern with the method: anonymous callers are told to sign in
// (401), signed-in ones that their role may not (403).
func (s *Server) authorize(c *fiber.Ctx) error {
	role := authz.RoleAnonymous
	if a, ok := ticketing.ActorFromContext(c.UserContext()); ok {
		role = a.Role
		if a.Role == ticketing.RoleSystem && a.Name == ticketing.PlatformActor {
			role = authz.RolePlatform
		}
	}
	allowed, err := s.deps.Authz.Allowed(role, routeOf(c), c.Method())
	switch {
	case err != nil:
		return ticketing.Internal(err)
	case allowed:
		return c.Next()
	case role != authz.RoleAnonymous:
		return errForbidden
	}
	if authErr, ok := c.Locals(localAuthErr).(error); ok {
		return authErr
	}
	return errSignInRequired
}

// actorOf returns the signed-in user of the request; routes that call it are
// only reachable by signed-in users (the policy says so).
func actorOf(c *fiber.Ctx) ticketing.Actor {
	a, _ := ticketing.ActorFromContext(c.UserContext())
	return a
}

// sessionOf returns the session id of the request's access token, or "".
func sessionOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localSessionID).(string)
	return id
}
