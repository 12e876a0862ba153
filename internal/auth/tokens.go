package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every error Parse returns. The rest of the
// message says why, and never contains the token or a key.
var ErrInvalidToken = errors.New("auth: invalid token")

// errUnknownKey is the keyfunc's answer to a kid that is missing or names no
// configured secret.
var errUnknownKey = errors.New("unknown key id")

// minSecretLen is the size of an HS256 key recommended by RFC 7518, section
// 3.2: a shorter secret is weaker than the hash.
const minSecretLen = 32

// Leeway absorbs clock skew between the instances that issue and check
// tokens: a token is accepted until Leeway after it expires.
const Leeway = 30 * time.Second

// Claims are what an access token asserts.
type Claims struct {
	UserID    string
	TenantID  string
	Role      string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// TokenConfig configures Tokens.
type TokenConfig struct {
	Secret          string           // current signing key, at least 32 bytes
	PreviousSecrets []string         // retired keys still accepted, chosen by kid; each at least 32 bytes
	Issuer          string           // iss of every token; required
	Audience        string           // aud of every token; required
	TTL             time.Duration    // lifetime of an access token; at least one second
	Now             func() time.Time // clock; nil means time.Now
}

// Tokens issues and parses HS256 JWT access tokens. Each token names its
// signing key by kid, so secrets can be rotated without signing everyone out:
// the old secret moves to PreviousSecrets until its last token expires. It is
// safe for concurrent use.
type Tokens struct {
	kid      string
	key      []byte
	keys     map[string][]byte // by kid: the current key and every previous one
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser

	// verified remembers tokens that passed every check, until they expire:
	// a buyer sends the same token with every request, and checking it again
	// (base64, JSON, HMAC) was a fifth of the API's CPU on an on-sale.
	mu       sync.Mutex
	verified map[string]Claims
}

// maxVerifiedTokens bounds the memory of verified tokens.
const maxVerifiedTokens = 50_000

// accessClaims is the JWT payload: registered claims plus the tenant, role and
// session of the user.
type accessClaims struct {
	jwt.RegisteredClaims
	TenantID  string `json:"tid"`
	Role      string `json:"role"`
	SessionID string `json:"sid"`
}

// Validate is called by the parser after the registered claims are checked;
// a token without these could not be attributed to anyone.
func (c accessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.TenantID == "":
		return errors.New("missing tid")
	case c.Role == "":
		return errors.New("missing role")
	case c.SessionID == "":
		return errors.New("missing sid")
	}
	return nil
}

// NewTokens checks cfg and returns Tokens that sign with cfg.Secret.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	var problems []error
	if len(cfg.Secret) < minSecretLen {
		problems = append(problems, fmt.Errorf("secret shorter than %d bytes", minSecretLen))
	}
	for i, s := range cfg.PreviousSecrets {
		if len(s) < minSecretLen {
			problems = append(problems, fmt.Errorf("previous secret %d shorter than %d bytes", i, minSecretLen))
		}
	}
	if cfg.Issuer == "" {
		problems = append(problems, errors.New("issuer is empty"))
	}
	if cfg.Audience == "" {
		problems = append(problems, errors.New("audience is empty"))
	}
	// exp and iat are whole seconds, so a shorter lifetime could not be expressed.
	if cfg.TTL < time.Second {
		problems = append(problems, fmt.Errorf("TTL %s is under one second", cfg.TTL))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("auth: token config: %w", err)
	}

	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	t := &Tokens{
		kid:      KeyID(cfg.Secret),
		key:      []byte(cfg.Secret),
		keys:     make(map[string][]byte, 1+len(cfg.PreviousSecrets)),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		now:      now,
	}
	for _, s := range cfg.PreviousSecrets {
		t.keys[KeyID(s)] = []byte(s)
	}
	t.keys[t.kid] = t.key
	t.parser = jwt.NewParser(
		// Pinning the method stops alg=none and algorithm-confusion tokens
		// before any key is looked up.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
	)
	return t, nil
}

// TTL returns the lifetime of the access tokens t issues.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs an access token asserting c's user, tenant, role and session,
// all of which are required. It sets the issue time to now and the expiry to
// now plus the TTL, ignoring c.IssuedAt and c.ExpiresAt, and returns the
// expiry as written in the token.
func (t *Tokens) Issue(c Claims) (token string, expiresAt time.Time, err error) {
	// Whole seconds, as the token stores them, so the returned expiry and a
	// parsed token's agree exactly.
	now := t.now().Truncate(time.Second)
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{t.audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        randomID(),
		},
		TenantID:  c.TenantID,
		Role:      c.Role,
		SessionID: c.SessionID,
	}
	// A token Parse would reject is a bug in the caller, better caught here.
	if err := claims.Validate(); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue token: %w", err)
	}
	jt := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	jt.Header["kid"] = t.kid
	token, err = jt.SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return token, claims.ExpiresAt.UTC(), nil
}

// Parse verifies token's signature with the key its kid names, checks its
// method, issuer, audience, expiry, issue time and required claims, and
// returns its claims. Every error wraps ErrInvalidToken.
func (t *Tokens) Parse(token string) (Claims, error) {
	now := t.now()
	t.mu.Lock()
	c, ok := t.verified[token]
	t.mu.Unlock()
	if ok && now.Before(c.ExpiresAt.Add(Leeway)) {
		return c, nil
	}
	c, err := t.parse(token)
	if err != nil {
		return Claims{}, err
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= maxVerifiedTokens {
		t.verified = make(map[string]Claims)
	}
	t.verified[strings.Clone(token)] = c // the caller's string may alias a reused buffer
	t.mu.Unlock()
	return c, nil
}

// parse checks a token in full.
func (t *Tokens) parse(token string) (Claims, error) {
	var claims accessClaims
	if _, err := t.parser.ParseWithClaims(token, &claims, t.keyFor); err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			// Its detail can quote the decoded JSON, that is the token's
			// contents; the other jwt errors only name the failed check.
			err = jwt.ErrTokenMalformed
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := Claims{
		UserID:    claims.Subject,
		TenantID:  claims.TenantID,
		Role:      claims.Role,
		SessionID: claims.SessionID,
		ExpiresAt: claims.ExpiresAt.UTC(),
	}
	// iat is optional in JWT; the parser checks it only when present.
	if claims.IssuedAt != nil {
		c.IssuedAt = claims.IssuedAt.UTC()
	}
	return c, nil
}

// keyFor returns the secret a token's kid header names.
func (t *Tokens) keyFor(token *jwt.Token) (any, error) {
	kid, _ := token.Header["kid"].(string)
	key, ok := t.keys[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return key, nil
}

// KeyID returns the kid of secret: the first 16 hex digits of its SHA-256.
// Every instance derives the same kid from the same secret, and the kid
// reveals nothing usable about the secret.
func KeyID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:8])
}

// randomID returns a fresh jti: 128 random bits, URL-safe.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand crashes the program rather than return an error
	return base64.RawURLEncoding.EncodeToString(b)
}
