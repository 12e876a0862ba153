package checkin

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

const (
	tenant = "4f7c2a8e-1d3b-4c5a-9e6f-0a1b2c3d4e5f"
	event  = "5a8d3b9f-2e4c-4d6b-8f7a-1b2c3d4e5f60"
	ticket = "6b9e4c0a-3f5d-4e7c-9a8b-2c3d4e5f6071"
	secret = "0123456789abcdef0123456789abcdef"
)

func TestSignVerify(t *testing.T) {
	s, err := NewSigner(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	want := Payload{KeyVersion: 2, TenantID: tenant, EventID: event, TicketID: ticket, Secret: secret}
	qr, err := s.Sign(want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(qr, "TK1.") || len(qr) != 182 {
		t.Fatalf("payload %q (%d characters)", qr, len(qr))
	}
	keys := map[int]ed25519.PublicKey{1: s.PublicKey(tenant, 1), 2: s.PublicKey(tenant, 2)}
	got, err := Verify(qr, keys)
	if err != nil || got != want {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, want)
	}

	// Any character changed: refused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	for i := range qr {
		for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, qr[i])+1)%len(alphabet)], 'A'} {
			if c == qr[i] {
				continue
			}
			changed := qr[:i] + string(c) + qr[i+1:]
			if _, err := Verify(changed, keys); !errors.Is(err, ErrInvalid) {
				t.Fatalf("changed at %d (%q): err = %v", i, changed, err)
			}
		}
	}
	// The key rotated out, another tenant's key, another secret: refused.
	if _, err := Verify(qr, map[int]ed25519.PublicKey{1: keys[1], 3: s.PublicKey(tenant, 3)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("retired key: %v", err)
	}
	other := "7cae5d1b-4a6e-4f8d-8b9c-3d4e5f607182"
	if _, err := Verify(qr, map[int]ed25519.PublicKey{2: s.PublicKey(other, 2)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another tenant's key: %v", err)
	}
	s2, _ := NewSigner(strings.Repeat("j", 32))
	if _, err := Verify(qr, map[int]ed25519.PublicKey{2: s2.PublicKey(tenant, 2)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("another platform secret: %v", err)
	}
	for _, bad := range []string{"", "TK1.", "TK1..", "TK2." + qr[4:], qr + "A", qr[:len(qr)-1], strings.Repeat("A", 300)} {
		if _, err := Verify(bad, keys); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify(%q) = %v", bad, err)
		}
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	if _, err := NewSigner("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
	s, _ := NewSigner(strings.Repeat("k", 32))
	for _, p := range []Payload{
		{KeyVersion: 0, TenantID: tenant, EventID: event, TicketID: ticket, Secret: secret},
		{KeyVersion: 1, TenantID: "x", EventID: event, TicketID: ticket, Secret: secret},
		{KeyVersion: 1, TenantID: tenant, EventID: event, TicketID: ticket, Secret: "abc"},
	} {
		if _, err := s.Sign(p); err == nil {
			t.Fatalf("Sign(%+v) succeeded", p)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(strings.Repeat("k", 32))
	qr, _ := s.Sign(Payload{KeyVersion: 1, TenantID: tenant, EventID: event, TicketID: ticket, Secret: secret})
	f.Add(qr)
	keys := map[int]ed25519.PublicKey{1: s.PublicKey(tenant, 1)}
	f.Fuzz(func(t *testing.T, in string) {
		if p, err := Verify(in, keys); err == nil && in != qr {
			t.Fatalf("%q verified as %+v", in, p)
		}
	})
}
