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

func TestLogoURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "",
		"   ":                                  "",
		" https://cdn.example.com/logo.png ":   "https://cdn.example.com/logo.png",
		"HTTPS://cdn.example.com/Logo.PNG":     "https://cdn.example.com/Logo.PNG",
		"http://localhost:8080/logo.svg?v=2#x": "http://localhost:8080/logo.svg?v=2#x",
		"https://例え.jp/ロゴ.png":                 "https://例え.jp/ロゴ.png",
		"https://[::1]/logo.png":               "https://[::1]/logo.png",
		"https://example.com/" + strings.Repeat("a", MaxLogoURLBytes-len("https://example.com/")): "https://example.com/" + strings.Repeat("a", MaxLogoURLBytes-len("https://example.com/")),
	} {
		got := in
		var p Problems
		validateLogoURL(&p, &got)
		if p.Err() != nil || got != want {
			t.Errorf("validateLogoURL(%q) = %q, %v; want %q", in, got, p.Err(), want)
		}
	}
	for _, bad := range []string{
		"javascript:alert(1)", "JavaScript://example.com/%0aalert(1)", "data:image/png;base64,AAAA", "ftp://example.com/logo.png",
		"//example.com/logo.png", "/logo.png", "logo.png", "https:example.com/logo.png", "https:///logo.png", "https://:443/logo.png",
		"https://user:secret@example.com/logo.png", "https://user@example.com/logo.png", "https://@example.com/logo.png",
		"https://example.com/a b.png", "https://example.com/a\tb.png", "https://example.com/\x00", "https://example.com/a\u0085b", "https://example.com/a\u2028b", "https://example.com/a\x7fb",
		"https://example.com\\@evil.example/logo.png", "https://example.com/\xff.png", "https://exa mple.com/",
		"https://example.com/" + strings.Repeat("a", MaxLogoURLBytes),
	} {
		got := bad
		var p Problems
		validateLogoURL(&p, &got)
		if ErrorKind(p.Err()) != KindInvalid || !strings.Contains(p.Err().Error(), "logoUrl") {
			t.Errorf("validateLogoURL(%q) = %v, want a problem naming logoUrl", bad, p.Err())
		}
	}
}

func TestAccentColor(t *testing.T) {
	for in, want := range map[string]string{"#4f46e5": "#4f46e5", " #ABCDEF ": "#abcdef", "#000000": "#000000"} {
		got := in
		var p Problems
		validateAccentColor(&p, &got)
		if p.Err() != nil || got != want {
			t.Errorf("validateAccentColor(%q) = %q, %v; want %q", in, got, p.Err(), want)
		}
	}
	for _, bad := range []string{"", "4f46e5", "#4f46e", "#4f46e5ff", "#fff", "#ggg000", "red", "rgb(0,0,0)", "#4f46e5;"} {
		got := bad
		var p Problems
		if validateAccentColor(&p, &got); ErrorKind(p.Err()) != KindInvalid {
			t.Errorf("validateAccentColor(%q) = %v, want KindInvalid", bad, p.Err())
		}
	}
}

func TestBrandingDefaultsAndUpdates(t *testing.T) {
	n := NewTenant{Slug: "acme", Name: "Acme", Currency: "NGN", Admin: NewUser{Email: "a@acme.test", Password: "long-enough", Name: "A"}}
	if err := n.Validate(); err != nil || n.AccentColor != DefaultAccentColor || n.LogoURL != "" {
		t.Fatalf("got %v, %+v; want the default colour and no logo", err, n)
	}
	color, logo := "#FFAA00", "javascript:alert(1)"
	u := TenantUpdate{AccentColor: &color, LogoURL: &logo}
	if err := AsError(u.Validate()); err == nil || len(err.Messages) != 1 || color != "#ffaa00" {
		t.Fatalf("got %v, colour %q; want one problem (the logo) and the colour lowercased", err, color)
	}
	if err := AsError((&TenantSettingsUpdate{}).Validate()); err == nil || len(err.Messages) != 1 {
		t.Fatalf("empty settings update: %v, want one problem", err)
	}
	name, bad := " ", "blue"
	s := TenantSettingsUpdate{Name: &name, AccentColor: &bad, LogoURL: &logo}
	if err := AsError(s.Validate()); err == nil || len(err.Messages) != 3 {
		t.Fatalf("got %v, want three problems", err)
	}
}
