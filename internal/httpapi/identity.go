package httpapi

import (
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// userResponse is an account as the API shows it.
type userResponse struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toUserResponse(u *ticketing.User) userResponse {
	return userResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Version: u.Version,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// authResponse is the answer of signup, signin and refresh.
type authResponse struct {
	User         userResponse `json:"user"`
	AccessToken  string       `json:"accessToken"`
	RefreshToken string       `json:"refreshToken"`
	ExpiresIn    int          `json:"expiresIn"`
}

type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

func (s *Server) signup(c *fiber.Ctx) error {
	var req signupRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.limitAuth(c, req.Email); err != nil {
		return err
	}
	u, sess, err := s.deps.Sessions.SignUp(c.UserContext(), ticketing.NewUser{Email: req.Email, Password: req.Password, Name: req.Name})
	if err != nil {
		return err
	}
	return s.respondSession(c, fiber.StatusCreated, u, sess)
}

type signinRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) signin(c *fiber.Ctx) error {
	var req signinRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	// Every attempt counts against the address (a spray over many emails);
	// failures count against the email, without locking its owner out.
	if err := s.limit(c); err != nil {
		return err
	}
	ctx, tenant, ip := c.UserContext(), ticketing.TenantFromContext(c.UserContext()), s.clientIP(c)
	email, _ := ticketing.NormalizeEmail(req.Email)
	wait, err := s.deps.SigninGuard.Check(ctx, tenant.ID, email, ip)
	if err != nil {
		return ticketing.Internal(err)
	}
	if wait > 0 {
		return tooMany(c, wait)
	}
	u, err := s.deps.Users.Authenticate(ctx, req.Email, req.Password)
	if ticketing.ErrorKind(err) == ticketing.KindUnauthorized {
		if ferr := s.deps.SigninGuard.Failed(ctx, tenant.ID, email, ip); ferr != nil {
			return ticketing.Internal(ferr)
		}
	}
	if err != nil {
		return err
	}
	sess, err := s.deps.Sessions.StartSession(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	return s.respondSession(c, fiber.StatusOK, u, sess)
}

// respondSession issues an access token for the session and sends both
// tokens in the body and as HttpOnly cookies.
func (s *Server) respondSession(c *fiber.Ctx, status int, u *ticketing.User, sess ticketing.Session) error {
	access, expires, err := s.deps.Tokens.Issue(auth.Claims{UserID: u.ID, TenantID: u.TenantID, Role: string(u.Role), SessionID: sess.ID})
	if err != nil {
		return err
	}
	s.setCookie(c, cookieAccess, access, "/", expires)
	s.setCookie(c, cookieRefresh, sess.RefreshToken, cookieRefreshPath, sess.RefreshExpiresAt)
	return c.Status(status).JSON(authResponse{
		User: toUserResponse(u), AccessToken: access, RefreshToken: sess.RefreshToken,
		ExpiresIn: int(s.deps.Tokens.TTL().Seconds()),
	})
}

// setCookie sets an HttpOnly cookie. SameSite=Lax, not Strict, so that a
// buyer coming back from the payment page is still signed in.
func (s *Server) setCookie(c *fiber.Ctx, name, value, path string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: path, Expires: expires,
		HTTPOnly: true, Secure: s.cfg.CookieSecure, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearCookies(c *fiber.Ctx) {
	for name, path := range map[string]string{cookieAccess: "/", cookieRefresh: cookieRefreshPath} {
		c.Cookie(&fiber.Cookie{
			Name: name, Path: path, Expires: time.Unix(0, 0), MaxAge: -1,
			HTTPOnly: true, Secure: s.cfg.CookieSecure, SameSite: fiber.CookieSameSiteLaxMode,
		})
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// refreshToken reads the refresh token from the body, else the cookie.
func refreshToken(c *fiber.Ctx) (string, error) {
	var req refreshRequest
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return "", err
		}
	}
	if req.RefreshToken == "" {
		req.RefreshToken = c.Cookies(cookieRefresh)
		if req.RefreshToken != "" {
			if err := sameOriginJSON(c); err != nil {
				return "", err
			}
		}
	}
	return req.RefreshToken, nil
}

func (s *Server) refresh(c *fiber.Ctx) error {
	token, err := refreshToken(c)
	if err != nil {
		return err
	}
	if token == "" {
		return invalid("refreshToken is required, in the body or the refresh_token cookie")
	}
	u, sess, err := s.deps.Sessions.RefreshSession(c.UserContext(), token)
	if err != nil && sess.ID != "" {
		// A replayed token ended its session: end its access tokens too.
		if rerr := s.revokeAccess(c, sess.ID); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	return s.respondSession(c, fiber.StatusOK, u, sess)
}

// signout ends the session of the refresh token (body or cookie) and of the
// access token, if any, and clears the cookies. Access tokens of the session
// stop working at once, not only when they expire.
func (s *Server) signout(c *fiber.Ctx) error {
	token, err := refreshToken(c)
	if err != nil {
		return err
	}
	var ended []string
	if token != "" {
		id, err := s.deps.Sessions.EndSession(c.UserContext(), token)
		if err != nil && ticketing.ErrorKind(err) != ticketing.KindUnauthorized {
			return err
		}
		if id != "" {
			ended = append(ended, id)
		}
	}
	if sid := sessionOf(c); sid != "" {
		if err := s.deps.Sessions.RevokeSession(c.UserContext(), sid); err != nil {
			return err
		}
		ended = append(ended, sid)
	}
	if err := s.revokeAccess(c, ended...); err != nil {
		return err
	}
	s.clearCookies(c)
	return c.SendStatus(fiber.StatusNoContent)
}

// limitAuth counts a signup attempt per tenant+IP and per tenant+email, and
// refuses it with 429 and Retry-After past either limit.
func (s *Server) limitAuth(c *fiber.Ctx, email string) error {
	normalized, _ := ticketing.NormalizeEmail(email)
	return s.limit(c, "email:"+normalized)
}

// limit counts a password attempt against the client's IP and the
// subjects given (an email, or the account changing its password).
func (s *Server) limit(c *fiber.Ctx, subjects ...string) error {
	tenant := ticketing.TenantFromContext(c.UserContext())
	limits := []redis.Limit{{Subject: "ip:" + s.clientIP(c), Max: s.cfg.AuthRateLimitIP}}
	for _, subject := range subjects {
		limits = append(limits, redis.Limit{Subject: subject, Max: s.cfg.AuthRateLimitEmail})
	}
	wait, err := s.deps.AuthLimiter.Allow(c.UserContext(), tenant.ID, limits...)
	if err != nil {
		return ticketing.Internal(err)
	}
	if wait > 0 {
		return tooMany(c, wait)
	}
	return nil
}

// tooMany refuses a request with 429 and Retry-After.
func tooMany(c *fiber.Ctx, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return ticketing.Errorf(ticketing.KindTooManyRequests, ticketing.CodeTooManyRequests, "too many attempts; retry in %d seconds", secs)
}

func (s *Server) getMe(c *fiber.Ctx) error {
	u, err := s.deps.Users.FindUserByID(c.UserContext(), actorOf(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(toUserResponse(u))
}

type updateMeRequest struct {
	Name            *string `json:"name"`
	Password        *string `json:"password"`
	CurrentPassword string  `json:"currentPassword"`
	Version         *int    `json:"version"`
}

// updateMe changes the caller's name or password. A new password ends every
// other session of the account.
func (s *Server) updateMe(c *fiber.Ctx) error {
	var req updateMeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Password != nil {
		// A stolen access token must not become a way to guess the password.
		if err := s.limit(c, "password-change:"+actorOf(c).UserID); err != nil {
			return err
		}
	}
	u, ended, err := s.deps.Users.UpdateProfile(c.UserContext(), ticketing.ProfileUpdate{
		Name: req.Name, Password: req.Password, CurrentPassword: req.CurrentPassword, Version: req.Version,
		KeepSession: sessionOf(c),
	})
	if err != nil {
		return err
	}
	if err := s.revokeAccess(c, ended...); err != nil {
		return err
	}
	return c.JSON(toUserResponse(u))
}

// revokeAccess puts ended sessions on the revocation list for as long as
// any of their access tokens could still be accepted. Postgres has already
// ended them, so a Redis failure is retried before it is reported.
func (s *Server) revokeAccess(c *fiber.Ctx, sessionIDs ...string) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		if err = s.deps.Revocations.RevokeSessions(c.UserContext(), s.deps.Tokens.TTL()+auth.Leeway, sessionIDs...); err == nil {
			return nil
		}
	}
	return ticketing.Internal(err)
}
