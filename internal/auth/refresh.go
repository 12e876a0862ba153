package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// refreshTokenBytes is the entropy of a refresh token: 256 bits, beyond any
// guessing.
const refreshTokenBytes = 32

// NewRefreshToken returns a fresh opaque refresh token for the client and the
// hash to store in its place, so a leaked table grants nothing. The token is
// 32 random bytes in unpadded URL-safe base64 (43 characters).
func NewRefreshToken() (token string, hash []byte) {
	b := make([]byte, refreshTokenBytes)
	rand.Read(b) // never fails: crypto/rand crashes the program rather than return an error
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token)
}

// HashRefreshToken returns the SHA-256 of token, the form in which refresh
// tokens are stored and looked up. A plain hash suffices, unlike for
// passwords, because the token is random and too long to guess.
func HashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
