package auth

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestNewRefreshTokenUniqueAndWellFormed(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		token, hash := NewRefreshToken()
		if len(token) != 43 {
			t.Fatalf("len(token) = %d, want 43", len(token))
		}
		if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != 32 {
			t.Fatalf("token %q decodes to %d bytes, err %v; want 32 bytes of unpadded URL-safe base64", token, len(b), err)
		}
		if seen[token] {
			t.Fatalf("token %q issued twice", token)
		}
		seen[token] = true
		if !bytes.Equal(hash, HashRefreshToken(token)) {
			t.Fatalf("returned hash differs from HashRefreshToken(token)")
		}
	}
}

func TestHashRefreshTokenDeterministic32Bytes(t *testing.T) {
	a, b := HashRefreshToken("some-token"), HashRefreshToken("some-token")
	if len(a) != 32 {
		t.Errorf("len(hash) = %d, want 32", len(a))
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two hashes of one token differ")
	}
	if bytes.Equal(a, HashRefreshToken("some-tokeN")) {
		t.Errorf("hashes of different tokens are equal")
	}
}
