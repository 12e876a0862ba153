package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"maps"
	"strings"
	"testing"
	"time"
)

const (
	secret    = "current-secret-0123456789abcdef-0123456789"
	oldSecret = "previous-secret-0123456789abcdef-012345678"
	issuer    = "ticketd"
	audience  = "ticketd-api"
	ttl       = 15 * time.Minute
)

// t0 has a fractional second to show that tokens carry whole seconds.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)

var alice = Claims{UserID: "user-1", TenantID: "tenant-1", Role: "admin", SessionID: "session-1"}

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTokens(t *testing.T, cfg TokenConfig) *Tokens {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = secret
	}
	if cfg.Issuer == "" {
		cfg.Issuer = issuer
	}
	if cfg.Audience == "" {
		cfg.Audience = audience
	}
	if cfg.TTL == 0 {
		cfg.TTL = ttl
	}
	if cfg.Now == nil {
		cfg.Now = clock(t0)
	}
	tok, err := NewTokens(cfg)
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tok
}

func issue(t *testing.T, tok *Tokens, c Claims) string {
	t.Helper()
	s, _, err := tok.Issue(c)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return s
}

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// craft builds a token by hand, signing header.payload with HMAC using sum,
// or leaving the signature empty when sum is nil.
func craft(t *testing.T, header, payload map[string]any, sum func() hash.Hash, key string) string {
	t.Helper()
	signed := b64JSON(t, header) + "." + b64JSON(t, payload)
	if sum == nil {
		return signed + "."
	}
	mac := hmac.New(sum, []byte(key))
	mac.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func validHeader() map[string]any {
	return map[string]any{"alg": "HS256", "typ": "JWT", "kid": KeyID(secret)}
}

func validPayload() map[string]any {
	now := t0.Unix()
	return map[string]any{
		"sub": "user-1", "iss": issuer, "aud": audience, "exp": now + 600, "iat": now, "jti": "j1",
		"tid": "tenant-1", "role": "admin", "sid": "session-1",
	}
}

// with returns a copy of m with the given keys set, or deleted when the value
// is nil.
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func segments(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	return parts
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueParseRoundTrip(t *testing.T) {
	tok := newTokens(t, TokenConfig{})
	token, exp, err := tok.Issue(Claims{
		UserID: alice.UserID, TenantID: alice.TenantID, Role: alice.Role, SessionID: alice.SessionID,
		IssuedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour), // ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	wantIat := t0.Truncate(time.Second)
	wantExp := wantIat.Add(ttl)
	if !exp.Equal(wantExp) {
		t.Errorf("Issue expiresAt = %v, want %v", exp, wantExp)
	}

	got, err := tok.Parse(token)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := alice
	want.IssuedAt, want.ExpiresAt = wantIat, wantExp
	if got != want {
		t.Errorf("Parse = %+v\nwant    %+v", got, want)
	}

	parts := segments(t, token)
	header := decodeSegment(t, parts[0])
	if header["alg"] != "HS256" || header["kid"] != KeyID(secret) {
		t.Errorf("header = %v, want alg HS256 and kid %s", header, KeyID(secret))
	}
	payload := decodeSegment(t, parts[1])
	for k, v := range map[string]any{"sub": "user-1", "iss": issuer, "tid": "tenant-1", "role": "admin", "sid": "session-1"} {
		if payload[k] != v {
			t.Errorf("payload[%q] = %v, want %v", k, payload[k], v)
		}
	}
	if jti, _ := payload["jti"].(string); jti == "" {
		t.Errorf("payload has no jti: %v", payload)
	}
	other := decodeSegment(t, segments(t, issue(t, tok, alice))[1])
	if other["jti"] == payload["jti"] {
		t.Errorf("two tokens share jti %v", payload["jti"])
	}
	if tok.TTL() != ttl {
		t.Errorf("TTL() = %v, want %v", tok.TTL(), ttl)
	}
}

func TestIssueRejectsMissingClaims(t *testing.T) {
	tok := newTokens(t, TokenConfig{})
	tests := []struct {
		name string
		c    Claims
	}{
		{"missingUserID", Claims{TenantID: "t", Role: "r", SessionID: "s"}},
		{"missingTenantID", Claims{UserID: "u", Role: "r", SessionID: "s"}},
		{"missingRole", Claims{UserID: "u", TenantID: "t", SessionID: "s"}},
		{"missingSessionID", Claims{UserID: "u", TenantID: "t", Role: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if token, _, err := tok.Issue(tt.c); err == nil {
				t.Errorf("Issue = %q, nil; want an error", token)
			}
		})
	}
}

func TestParseAcceptsCraftedControl(t *testing.T) {
	// The rejection cases below change one thing each from this token, so it
	// must itself be accepted or they prove nothing.
	tok := newTokens(t, TokenConfig{})
	token := craft(t, validHeader(), validPayload(), sha256.New, secret)
	if _, err := tok.Parse(token); err != nil {
		t.Fatalf("Parse(crafted valid token) = %v", err)
	}
}

func TestParseExpiry(t *testing.T) {
	token := issue(t, newTokens(t, TokenConfig{}), alice)
	exp := t0.Truncate(time.Second).Add(ttl)
	tests := []struct {
		name  string
		now   time.Time
		valid bool
	}{
		{"validBeforeExpiry", exp.Add(-time.Second), true},
		{"validWithinLeeway", exp.Add(29 * time.Second), true},
		{"expiredPastLeeway", exp.Add(31 * time.Second), false},
		{"expiredLongAgo", exp.Add(24 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newTokens(t, TokenConfig{Now: clock(tt.now)}).Parse(token)
			if tt.valid && err != nil {
				t.Errorf("Parse = %v, want success", err)
			}
			if !tt.valid && (!errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired")) {
				t.Errorf("Parse = %v, want ErrInvalidToken for an expired token", err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tok := newTokens(t, TokenConfig{})
	good := issue(t, tok, alice)
	parts := segments(t, good)

	// A payload granting more, re-encoded, under the original signature.
	escalated := decodeSegment(t, parts[1])
	escalated["tid"] = "tenant-2"
	tamperedPayload := parts[0] + "." + b64JSON(t, escalated) + "." + parts[2]

	// A middle character, every bit of which is significant, replaced by
	// another base64url character so the signature still decodes.
	sig := []byte(parts[2])
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	tamperedSignature := parts[0] + "." + parts[1] + "." + string(sig)

	otherAudience := issue(t, newTokens(t, TokenConfig{Audience: "other-api"}), alice)
	otherIssuer := issue(t, newTokens(t, TokenConfig{Issuer: "someone-else"}), alice)
	strangerKey := issue(t, newTokens(t, TokenConfig{Secret: "stranger-secret-0123456789abcdef-0123456"}), alice)

	h, p := validHeader(), validPayload()
	tests := []struct {
		name  string
		token string
		why   string // in the error message: the check that failed
	}{
		{"empty", "", "malformed"},
		{"garbage", "not a jwt", "malformed"},
		{"twoSegments", parts[0] + "." + parts[1], "malformed"},
		{"tamperedPayload", tamperedPayload, "signature is invalid"},
		{"tamperedSignature", tamperedSignature, "signature is invalid"},
		{"signatureStripped", parts[0] + "." + parts[1] + ".", "signature is invalid"},
		{"wrongAudience", otherAudience, "invalid audience"},
		{"wrongIssuer", otherIssuer, "invalid issuer"},
		{"audienceListWithoutOurs", craft(t, h, with(p, "aud", []string{"other-api"}), sha256.New, secret), "invalid audience"},
		{"unknownSecretWithUnknownKid", strangerKey, "unknown key id"},
		{"algNone", craft(t, with(h, "alg", "none"), p, nil, ""), "signing method none is invalid"},
		{"algNoneCapitalised", craft(t, with(h, "alg", "None"), p, nil, ""), "signing method (alg) is unavailable"},
		{"algHS512SameSecret", craft(t, with(h, "alg", "HS512"), p, sha512.New, secret), "signing method HS512 is invalid"},
		{"algRS256WithHMACSameSecret", craft(t, with(h, "alg", "RS256"), p, sha256.New, secret), "signing method RS256 is invalid"},
		{"algMissing", craft(t, with(h, "alg", nil), p, sha256.New, secret), "signing method (alg) is unspecified"},
		{"kidUnknown", craft(t, with(h, "kid", "0123456789abcdef"), p, sha256.New, secret), "unknown key id"},
		{"kidMissing", craft(t, with(h, "kid", nil), p, sha256.New, secret), "unknown key id"},
		{"kidEmpty", craft(t, with(h, "kid", ""), p, sha256.New, secret), "unknown key id"},
		{"kidNotString", craft(t, with(h, "kid", 42), p, sha256.New, secret), "unknown key id"},
		{"kidOfCurrentKeyButSignedByStranger", craft(t, h, p, sha256.New, "stranger-secret-0123456789abcdef-0123456"), "signature is invalid"},
		{"missingSub", craft(t, h, with(p, "sub", nil), sha256.New, secret), "missing sub"},
		{"missingTid", craft(t, h, with(p, "tid", nil), sha256.New, secret), "missing tid"},
		{"missingRole", craft(t, h, with(p, "role", nil), sha256.New, secret), "missing role"},
		{"missingSid", craft(t, h, with(p, "sid", nil), sha256.New, secret), "missing sid"},
		{"emptyTid", craft(t, h, with(p, "tid", ""), sha256.New, secret), "missing tid"},
		{"missingExp", craft(t, h, with(p, "exp", nil), sha256.New, secret), "exp claim is required"},
		{"missingIss", craft(t, h, with(p, "iss", nil), sha256.New, secret), "iss claim is required"},
		{"missingAud", craft(t, h, with(p, "aud", nil), sha256.New, secret), "aud claim is required"},
		{"expNotNumber", craft(t, h, with(p, "exp", "LEAK-tomorrow"), sha256.New, secret), "token is malformed"},
		{"issuedInFuture", craft(t, h, with(p, "iat", t0.Add(5*time.Minute).Unix(), "exp", t0.Add(time.Hour).Unix()), sha256.New, secret), "token used before issued"},
		{"notBeforeInFuture", craft(t, h, with(p, "nbf", t0.Add(5*time.Minute).Unix()), sha256.New, secret), "token is not valid yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tok.Parse(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Parse = %+v, %v; want ErrInvalidToken", c, err)
			}
			if c != (Claims{}) {
				t.Errorf("Parse returned claims %+v with its error", c)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.why) {
				t.Errorf("error %q does not say %q", msg, tt.why)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "LEAK") || (tt.token != "" && strings.Contains(msg, tt.token)) {
				t.Errorf("error %q contains the secret or the token's contents", msg)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	oldToken := issue(t, newTokens(t, TokenConfig{Secret: oldSecret}), alice)
	rotated := newTokens(t, TokenConfig{Secret: secret, PreviousSecrets: []string{oldSecret}})
	forgotten := newTokens(t, TokenConfig{Secret: secret})

	t.Run("oldTokenValidWhileOldSecretPrevious", func(t *testing.T) {
		c, err := rotated.Parse(oldToken)
		if err != nil || c.UserID != alice.UserID {
			t.Errorf("Parse = %+v, %v; want alice's claims", c, err)
		}
	})
	t.Run("oldTokenInvalidOnceOldSecretDropped", func(t *testing.T) {
		if _, err := forgotten.Parse(oldToken); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Parse = %v, want ErrInvalidToken", err)
		}
	})
	t.Run("newTokenCarriesNewKid", func(t *testing.T) {
		newToken := issue(t, rotated, alice)
		header := decodeSegment(t, segments(t, newToken)[0])
		if header["kid"] != KeyID(secret) {
			t.Errorf("kid = %v, want %s (the current secret's)", header["kid"], KeyID(secret))
		}
		if _, err := forgotten.Parse(newToken); err != nil {
			t.Errorf("Parse by an instance without previous secrets = %v, want success", err)
		}
	})
	t.Run("newSignatureUnderOldKidInvalid", func(t *testing.T) {
		// The kid picks the key; a signature by another known key must not do.
		token := craft(t, with(validHeader(), "kid", KeyID(oldSecret)), validPayload(), sha256.New, secret)
		if _, err := rotated.Parse(token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Parse = %v, want ErrInvalidToken", err)
		}
	})
}

func TestNewTokensRejectsBadConfig(t *testing.T) {
	ok := TokenConfig{Secret: secret, PreviousSecrets: []string{oldSecret}, Issuer: issuer, Audience: audience, TTL: ttl}
	if _, err := NewTokens(ok); err != nil {
		t.Fatalf("NewTokens(valid config) = %v", err)
	}
	tests := []struct {
		name   string
		change func(*TokenConfig)
	}{
		{"secretEmpty", func(c *TokenConfig) { c.Secret = "" }},
		{"secret31Bytes", func(c *TokenConfig) { c.Secret = strings.Repeat("x", 31) }},
		{"previousSecretShort", func(c *TokenConfig) { c.PreviousSecrets = []string{oldSecret, "short"} }},
		{"issuerEmpty", func(c *TokenConfig) { c.Issuer = "" }},
		{"audienceEmpty", func(c *TokenConfig) { c.Audience = "" }},
		{"ttlZero", func(c *TokenConfig) { c.TTL = 0 }},
		{"ttlNegative", func(c *TokenConfig) { c.TTL = -time.Minute }},
		{"ttlSubSecond", func(c *TokenConfig) { c.TTL = 500 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			tok, err := NewTokens(cfg)
			if err == nil || tok != nil {
				t.Fatalf("NewTokens = %v, %v; want nil and an error", tok, err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), oldSecret) {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
	t.Run("secret32BytesAccepted", func(t *testing.T) {
		cfg := ok
		cfg.Secret = strings.Repeat("x", 32)
		if _, err := NewTokens(cfg); err != nil {
			t.Errorf("NewTokens = %v, want success", err)
		}
	})
}

func TestKeyID(t *testing.T) {
	// SHA-256 of the empty string begins e3b0c44298fc1c14.
	if got := KeyID(""); got != "e3b0c44298fc1c14" {
		t.Errorf(`KeyID("") = %q, want e3b0c44298fc1c14`, got)
	}
	if KeyID(secret) != KeyID(secret) || KeyID(secret) == KeyID(oldSecret) {
		t.Errorf("KeyID is not a deterministic function of the secret")
	}
	if len(KeyID(secret)) != 16 {
		t.Errorf("len(KeyID) = %d, want 16", len(KeyID(secret)))
	}
}

// TestParseRemembersOnlyUntilExpiry: a verified token is not checked again
// while it is valid, and the memory never outlives its expiry.
func TestParseRemembersOnlyUntilExpiry(t *testing.T) {
	now := t0
	tok := newTokens(t, TokenConfig{Now: func() time.Time { return now }})
	token := issue(t, tok, alice)
	for range 3 {
		if c, err := tok.Parse(token); err != nil || c.UserID != alice.UserID {
			t.Fatalf("Parse = %+v, %v", c, err)
		}
	}
	if len(tok.verified) != 1 {
		t.Fatalf("%d tokens remembered, want 1", len(tok.verified))
	}
	now = t0.Add(ttl + Leeway + time.Second)
	if _, err := tok.Parse(token); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a remembered token after its expiry: %v, want ErrInvalidToken", err)
	}
	tampered := token[:len(token)-2] + "xx"
	if _, err := tok.Parse(tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a tampered token: %v", err)
	}
}
