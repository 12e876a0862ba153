package ticketing

import (
	"strings"
	"testing"
)

func TestValidSlug(t *testing.T) {
	for slug, want := range map[string]bool{
		"acme": true, "lagos-live-2026": true, "a1b": true, strings.Repeat("a", 40): true,
		"ab": false, strings.Repeat("a", 41): false, "Acme": false, "acme_events": false, "-acme": false,
		"acme-": false, "ac--me": false, "www": false, "api": false, "admin": false, "platform": false, "": false,
	} {
		if got := ValidSlug(slug); got != want {
			t.Errorf("ValidSlug(%q) = %v, want %v", slug, got, want)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	got, err := NormalizeDomain(" Tickets.Example.COM. ", "tickets.test")
	if err != nil || got != "tickets.example.com" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", "localhost", "example", "1.2.3.4", "a_b.example", "-a.example", "x.tickets.test", "tickets.test", "a..b"} {
		if _, err := NormalizeDomain(bad, "tickets.test"); ErrorKind(err) != KindInvalid {
			t.Errorf("NormalizeDomain(%q) = %v, want KindInvalid", bad, err)
		}
	}
}

func TestNewTenantValidateReportsEveryField(t *testing.T) {
	n := NewTenant{Slug: "x", Name: " ", Currency: "eur"}
	err := AsError(n.Validate())
	if err == nil || err.Kind != KindInvalid || len(err.Messages) != 6 {
		t.Fatalf("got %v, want six problems (three of the tenant, three of its admin)", err)
	}
	ok := NewTenant{Slug: "acme", Name: " Acme ", Currency: "ngn", Admin: NewUser{Email: " Boss@Acme.TEST ", Password: "long-enough", Name: "Boss"}}
	if err := ok.Validate(); err != nil || ok.Name != "Acme" || ok.Currency != "NGN" || ok.Admin.Email != "boss@acme.test" || ok.Admin.Role != RoleAdmin {
		t.Fatalf("got %v, %+v", err, ok)
	}
}
