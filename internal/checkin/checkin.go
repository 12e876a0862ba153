// Package checkin signs what a ticket's QR code carries, so that a scanner
// can tell a real ticket offline, with nothing but the tenant's published
// public keys.
//
// Each tenant has numbered Ed25519 keys; only the newest is active, and
// rotating retires it. A private key is never stored: it is derived from
// the platform's signing secret (TICKET_SIGNING_SECRET), the tenant and the
// key's version with HKDF-SHA256, so the database holds only the versions.
//
// A payload is "TK1." + base64url(body) + "." + base64url(signature), where
// body is the key version (4 bytes, big-endian) and the tenant, event and
// ticket ids and the ticket's secret (16 bytes each), and the signature is
// Ed25519 over "ticketd ticket v1\x00" + body. It is 182 characters, which a
// QR code of version 9 holds at error correction level M.
package checkin

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

const (
	prefix    = "TK1."
	bodyLen   = 4 + 4*16
	signedTag = "ticketd ticket v1\x00"
	// MinSecretLen is the least length of the signing secret.
	MinSecretLen = 32
)

// strict refuses the encodings of a body that differ only in unused bits,
// so that a payload has one spelling.
var strict = base64.RawURLEncoding.Strict()

// Payload is what a ticket's QR code says.
type Payload struct {
	KeyVersion int
	TenantID   string
	EventID    string
	TicketID   string
	// Secret is the ticket's secret: 32 hex digits.
	Secret string
}

// ErrInvalid is any payload that is malformed, signed by another key, or
// changed after signing.
var ErrInvalid = errors.New("checkin: invalid ticket payload")

// Signer derives the tenants' keys from the platform's secret.
type Signer struct{ secret []byte }

// NewSigner returns a Signer; the secret must be at least MinSecretLen
// bytes.
func NewSigner(secret string) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("checkin: the signing secret must be at least %d characters", MinSecretLen)
	}
	return &Signer{secret: []byte(secret)}, nil
}

func (s *Signer) private(tenantID string, version int) ed25519.PrivateKey {
	seed, err := hkdf.Key(sha256.New, s.secret, []byte(tenantID), fmt.Sprintf("ticketd checkin key %d", version), ed25519.SeedSize)
	if err != nil {
		panic("checkin: hkdf: " + err.Error()) // only for lengths HKDF cannot give
	}
	return ed25519.NewKeyFromSeed(seed)
}

// PublicKey is the public key of a tenant's key version.
func (s *Signer) PublicKey(tenantID string, version int) ed25519.PublicKey {
	return s.private(tenantID, version).Public().(ed25519.PublicKey)
}

// Sign returns the QR payload of p, signed with p.KeyVersion's key.
func (s *Signer) Sign(p Payload) (string, error) {
	body, err := p.body()
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(s.private(p.TenantID, p.KeyVersion), append([]byte(signedTag), body...))
	return prefix + base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (p Payload) body() ([]byte, error) {
	if p.KeyVersion <= 0 {
		return nil, errors.New("checkin: no key version")
	}
	body := binary.BigEndian.AppendUint32(make([]byte, 0, bodyLen), uint32(p.KeyVersion))
	for _, id := range []string{p.TenantID, p.EventID, p.TicketID} {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("checkin: bad id %q", id)
		}
		body = append(body, u[:]...)
	}
	secret, err := hex.DecodeString(p.Secret)
	if err != nil || len(secret) != 16 {
		return nil, errors.New("checkin: a ticket secret is 32 hex digits")
	}
	return append(body, secret...), nil
}

// Parse reads a payload without checking its signature; Verify checks it.
func Parse(s string) (Payload, []byte, []byte, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(s) > 256 {
		return Payload{}, nil, nil, ErrInvalid
	}
	b64body, b64sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Payload{}, nil, nil, ErrInvalid
	}
	body, err := strict.DecodeString(b64body)
	if err != nil || len(body) != bodyLen {
		return Payload{}, nil, nil, ErrInvalid
	}
	sig, err := strict.DecodeString(b64sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Payload{}, nil, nil, ErrInvalid
	}
	p := Payload{KeyVersion: int(binary.BigEndian.Uint32(body))}
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = uuid.UUID(body[4+16*i : 4+16*(i+1)]).String()
	}
	p.TenantID, p.EventID, p.TicketID = ids[0], ids[1], ids[2]
	p.Secret = hex.EncodeToString(body[4+48:])
	if p.KeyVersion <= 0 {
		return Payload{}, nil, nil, ErrInvalid
	}
	return p, body, sig, nil
}

// Verify checks s against the public keys by version (a tenant's keys that
// are not retired) and returns what it says.
func Verify(s string, keys map[int]ed25519.PublicKey) (Payload, error) {
	p, body, sig, err := Parse(s)
	if err != nil {
		return Payload{}, err
	}
	key, ok := keys[p.KeyVersion]
	if !ok || len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, append([]byte(signedTag), body...), sig) {
		return Payload{}, ErrInvalid
	}
	return p, nil
}

// SecretHash is what an offline check-in list carries of a secret: the
// hex SHA-256 of the secret's text, so a device can match a scanned secret
// without the list being a set of tickets to print.
func SecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ActiveVersion is the version of the key that is not retired, 0 if none.
func ActiveVersion(keys []ticketing.CheckinKey) int {
	for _, k := range keys {
		if k.RetiredAt == nil {
			return k.Version
		}
	}
	return 0
}
