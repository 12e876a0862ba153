package ticketing

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is a user's role within their tenant.
type Role string

// Roles of tenant users. Platform operators are not users; they hold the
// platform API key.
const (
	RoleUser    Role = "USER"    // a buyer
	RoleAdmin   Role = "ADMIN"   // organizer staff: everything in the tenant
	RoleCheckin Role = "CHECKIN" // door staff: scans tickets, nothing else
)

// Valid reports whether r is a tenant role.
func (r Role) Valid() bool { return r == RoleUser || r == RoleAdmin || r == RoleCheckin }

// Error codes of identity operations.
const (
	CodeEmailTaken         = "EMAIL_TAKEN"
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeInvalidToken       = "INVALID_TOKEN"
	CodeStaleVersion       = "STALE_VERSION"
	CodeLastAdmin          = "LAST_ADMIN"
)

// Password length bounds, in characters.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// User is an account of one tenant.
type User struct {
	ID        string
	TenantID  string
	Email     string
	Name      string
	Role      Role
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NormalizeEmail trims and lowercases an address and reports whether it is a
// plain address (no display name) of at most 254 characters.
func NormalizeEmail(s string) (string, bool) {
	e := strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || len(e) > 254 || !strings.Contains(e[strings.LastIndex(e, "@"):], ".") {
		return e, false
	}
	return e, true
}

// NewUser is the input to create an account.
type NewUser struct {
	Email    string
	Password string
	Name     string
	Role     Role
}

// Validate normalizes the input and reports every problem with it, naming
// fields with prefix (for example "admin.").
func (n *NewUser) Validate(prefix string) error {
	var p Problems
	n.validate(&p, prefix)
	return p.Err()
}

func (n *NewUser) validate(p *Problems, prefix string) {
	var ok bool
	n.Email, ok = NormalizeEmail(n.Email)
	n.Name = strings.TrimSpace(n.Name)
	if n.Role == "" {
		n.Role = RoleUser
	}
	p.Addf(!ok, "%semail must be a valid email address", prefix)
	validatePassword(p, prefix+"password", n.Password)
	validateName(p, prefix+"name", n.Name)
	p.Addf(!n.Role.Valid(), "%srole must be USER, ADMIN or CHECKIN", prefix)
}

func validatePassword(p *Problems, field, pw string) {
	n := utf8.RuneCountInString(pw)
	p.Addf(n < MinPasswordLength || n > MaxPasswordLength, "%s must be %d-%d characters", field, MinPasswordLength, MaxPasswordLength)
}

// UserUpdate is an admin's change to a user. Version must be the version the
// admin last read; a stale version is a conflict.
type UserUpdate struct {
	Role    *Role
	Name    *string
	Version int
}

// Validate normalizes the update and reports every problem with it.
func (u *UserUpdate) Validate() error {
	var p Problems
	p.Addf(u.Role == nil && u.Name == nil, "at least one of role or name must be given")
	if u.Role != nil {
		p.Addf(!u.Role.Valid(), "role must be USER, ADMIN or CHECKIN")
	}
	if u.Name != nil {
		validateName(&p, "name", trimPtr(u.Name))
	}
	p.Addf(u.Version < 1, "version is required: send the version you last read")
	return p.Err()
}

// ProfileUpdate is a user's change to their own account. Changing the
// password requires the current one and ends every session but
// KeepSession. Version, when set, must match.
type ProfileUpdate struct {
	Name            *string
	Password        *string
	CurrentPassword string
	Version         *int
	KeepSession     string
}

// Validate normalizes the update and reports every problem with it.
func (u *ProfileUpdate) Validate() error {
	var p Problems
	p.Addf(u.Name == nil && u.Password == nil, "at least one of name or password must be given")
	if u.Name != nil {
		validateName(&p, "name", trimPtr(u.Name))
	}
	if u.Password != nil {
		validatePassword(&p, "password", *u.Password)
		p.Addf(u.CurrentPassword == "", "currentPassword is required to change the password")
	}
	return p.Err()
}

// UserFilter selects users in the admin listing.
type UserFilter struct {
	Role *Role
	// Email matches addresses containing it, case-insensitively.
	Email string
	Page  Page
}

// PasswordHasher hashes and verifies passwords. Storage uses it so that no
// plain password is ever written.
type PasswordHasher interface {
	Hash(password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded
	// should be replaced by a hash with the current parameters.
	Verify(encoded, password string) (ok, needsRehash bool, err error)
	// VerifyDummy spends the time of a Verify, for unknown accounts.
	VerifyDummy(password string)
}

// UserService manages the accounts of the tenant carried by the context.
type UserService interface {
	// CreateUser creates an account (signup). Returns KindInvalid for bad
	// input and KindConflict (EMAIL_TAKEN) when the tenant already has the
	// email.
	CreateUser(ctx context.Context, n NewUser) (*User, error)

	// Authenticate returns the account with the email and password, or
	// KindUnauthorized (INVALID_CREDENTIALS) without saying which was wrong.
	Authenticate(ctx context.Context, email, password string) (*User, error)

	// FindUserByID returns an account or KindNotFound.
	FindUserByID(ctx context.Context, id string) (*User, error)

	// FindUsers returns one page of accounts, oldest first, and the cursor
	// of the next page ("" on the last).
	FindUsers(ctx context.Context, f UserFilter) ([]*User, string, error)

	// UpdateUser applies an admin's change, audited as the context's actor.
	// A role change ends the user's sessions in the same transaction; their
	// ids are returned so that their access tokens can be revoked too.
	// Returns KindNotFound, KindConflict (STALE_VERSION) for a stale version
	// and KindConflict (LAST_ADMIN) for demoting the tenant's last admin.
	UpdateUser(ctx context.Context, id string, u UserUpdate) (*User, []string, error)

	// UpdateProfile changes the context actor's own account, audited. A new
	// password ends the other sessions, whose ids are returned. Returns
	// KindUnauthorized (INVALID_CREDENTIALS) for a wrong current password and
	// KindConflict (STALE_VERSION) for a stale version.
	UpdateProfile(ctx context.Context, u ProfileUpdate) (*User, []string, error)
}

// Session is a signed-in session: its id, carried by access tokens, and its
// current refresh token.
type Session struct {
	ID               string
	UserID           string
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// SessionService keeps refresh-token sessions of the context's tenant.
type SessionService interface {
	// SignUp creates an account (see UserService.CreateUser) and opens its
	// first session in one transaction: a failed signup leaves nothing.
	SignUp(ctx context.Context, n NewUser) (*User, Session, error)

	// StartSession opens a session for the user.
	StartSession(ctx context.Context, userID string) (Session, error)

	// RefreshSession rotates a refresh token and returns the session's user
	// and its new token. A token that was already rotated revokes the whole
	// session (it was replayed, so it may be stolen); the error then comes
	// with the revoked Session's ID so that its access tokens can be revoked
	// too. Unknown, expired, rotated and revoked tokens return
	// KindUnauthorized (INVALID_TOKEN).
	RefreshSession(ctx context.Context, refreshToken string) (*User, Session, error)

	// EndSession revokes the session of a refresh token and returns its id;
	// an unknown token is KindUnauthorized (INVALID_TOKEN).
	EndSession(ctx context.Context, refreshToken string) (string, error)

	// RevokeSession revokes a session by id; revoking twice is fine.
	RevokeSession(ctx context.Context, sessionID string) error

	// RevokeUserSessions revokes every open session of the user except
	// keep (which may be empty) and returns the ids it revoked.
	RevokeUserSessions(ctx context.Context, userID, keep string) ([]string, error)
}

// SessionRevocations tells access-token checks, which do not touch the
// database, that a session has ended before its access tokens expire.
type SessionRevocations interface {
	// RevokeSessions marks the sessions revoked for at least ttl, the
	// lifetime of an access token.
	RevokeSessions(ctx context.Context, ttl time.Duration, sessionIDs ...string) error
	// SessionRevoked reports whether the session was revoked.
	SessionRevoked(ctx context.Context, sessionID string) (bool, error)
}
