package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// tokenVersion starts every token, so that the format can change.
const tokenVersion = "wr1"

// MinSecretLength is the shortest WAITING_ROOM_SECRET accepted.
const MinSecretLength = 32

// Signer makes and checks visitor tokens: wr1.<visitor>.<base64url
// HMAC-SHA256 of the tenant, event, user and visitor>. A token names its
// visitor in the clear; the signature binds it to one buyer of one event of
// one organizer, so it cannot be shared or moved.
type Signer struct{ secret []byte }

// NewSigner returns a Signer keyed by secret (WAITING_ROOM_SECRET).
func NewSigner(secret string) (*Signer, error) {
	if len(secret) < MinSecretLength {
		return nil, errors.New("waitroom: the secret must be at least 32 characters")
	}
	return &Signer{secret: []byte(secret)}, nil
}

func (s *Signer) mac(tenantID, eventID, userID, visitor string) []byte {
	h := hmac.New(sha256.New, s.secret)
	// Ids never contain a newline, so the fields cannot be shifted.
	h.Write([]byte(tokenVersion + "\n" + tenantID + "\n" + eventID + "\n" + userID + "\n" + visitor))
	return h.Sum(nil)
}

// Sign returns the token of visitor.
func (s *Signer) Sign(tenantID, eventID, userID, visitor string) string {
	return tokenVersion + "." + visitor + "." + base64.RawURLEncoding.EncodeToString(s.mac(tenantID, eventID, userID, visitor))
}

// Verify returns the visitor of a token signed for the tenant, event and
// user, else ticketing.ErrRoomTokenInvalid.
func (s *Signer) Verify(token, tenantID, eventID, userID string) (string, error) {
	version, rest, ok := strings.Cut(token, ".")
	if !ok || version != tokenVersion {
		return "", ticketing.ErrRoomTokenInvalid
	}
	visitor, sig, ok := strings.Cut(rest, ".")
	if !ok || !ticketing.ValidID(visitor) {
		return "", ticketing.ErrRoomTokenInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(tenantID, eventID, userID, visitor)) {
		return "", ticketing.ErrRoomTokenInvalid
	}
	return visitor, nil
}
