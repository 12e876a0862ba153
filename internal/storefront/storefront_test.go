package storefront

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	for amount, want := range map[int64]string{
		0: "NGN 0.00", 5: "NGN 0.05", 100: "NGN 1.00", 1500000: "NGN 15,000.00",
		123456789: "NGN 1,234,567.89", -2550: "-NGN 25.50",
	} {
		if got := Money(amount, "NGN"); got != want {
			t.Errorf("Money(%d) = %q, want %q", amount, got, want)
		}
	}
}

// TestWhen: a time in the venue's zone, named; daylight saving changes the
// name with the offset; a zone without an abbreviation is named by its
// offset; no zone, or a name that is not a zone, is UTC.
func TestWhen(t *testing.T) {
	winter := time.Date(2027, 1, 3, 18, 0, 0, 0, time.UTC)
	summer := time.Date(2027, 7, 3, 18, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at         time.Time
		zone, want string
	}{
		{winter, "Africa/Lagos", "Sun 3 Jan 2027, 19:00 WAT"},
		{winter, "Africa/Nairobi", "Sun 3 Jan 2027, 21:00 EAT"},
		{winter, "Europe/London", "Sun 3 Jan 2027, 18:00 GMT"},
		{summer, "Europe/London", "Sat 3 Jul 2027, 19:00 BST"},
		{winter, "America/New_York", "Sun 3 Jan 2027, 13:00 EST"},
		{summer, "America/New_York", "Sat 3 Jul 2027, 14:00 EDT"},
		{time.Date(2027, 1, 3, 22, 30, 0, 0, time.UTC), "Asia/Dubai", "Mon 4 Jan 2027, 02:30 +04"},
		{winter.In(time.FixedZone("elsewhere", 5*3600)), "Africa/Lagos", "Sun 3 Jan 2027, 19:00 WAT"},
		{winter, "UTC", "Sun 3 Jan 2027, 18:00 UTC"},
		{winter, "", "Sun 3 Jan 2027, 18:00 UTC"},
		{winter, "Local", "Sun 3 Jan 2027, 18:00 UTC"},
		{winter, "Mars/Olympus_Mons", "Sun 3 Jan 2027, 18:00 UTC"},
		{winter, "../../etc/passwd", "Sun 3 Jan 2027, 18:00 UTC"},
	} {
		if got := When(c.at, c.zone); got != c.want {
			t.Errorf("When(%v, %q) = %q, want %q", c.at, c.zone, got, c.want)
		}
	}
}

// TestPolicy: the pages admit their own origin only, and images of the
// logo's origin; a logo that is not a plain http(s) URL adds nothing.
func TestPolicy(t *testing.T) {
	base := Policy(Brand{})
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "img-src 'self' data:;"} {
		if !strings.Contains(base, want) {
			t.Errorf("policy %q lacks %q", base, want)
		}
	}
	if p := Policy(Brand{LogoURL: "https://cdn.example.com/a/logo.png?x=1"}); !strings.Contains(p, "img-src 'self' data: https://cdn.example.com;") {
		t.Errorf("logo policy: %q", p)
	}
	for _, bad := range []string{"javascript:alert(1)", "data:image/png;base64,AAAA", "https://a.example;script-src *", "//cdn.example.com/x.png", "ftp://x.example/l.png"} {
		if p := Policy(Brand{LogoURL: bad}); p != base {
			t.Errorf("logo %q changed the policy: %q", bad, p)
		}
	}
	if e := EmbedPolicy(Brand{}); !strings.Contains(e, "frame-ancestors *") || strings.Contains(e, "frame-ancestors 'none'") {
		t.Errorf("embed policy: %q", e)
	}
}

func TestTheme(t *testing.T) {
	if got := string(Theme(Brand{AccentColor: "#0A7D33"})); got != ":root{--accent:#0a7d33;--on-accent:#ffffff;--accent-ink:#0a7d33}\n" {
		t.Errorf("theme %q", got)
	}
	def := string(Theme(Brand{AccentColor: DefaultAccent}))
	if def != ":root{--accent:#4f46e5;--on-accent:#ffffff;--accent-ink:#4f46e5}\n" {
		t.Errorf("default theme %q", def)
	}
	for _, bad := range []string{"", "red", "#fff", "#12345g", "#+12345", "#123456;}body{display:none"} {
		if got := string(Theme(Brand{AccentColor: bad})); got != def {
			t.Errorf("accent %q gave %q", bad, got)
		}
	}
	// A light accent gets dark text on it, and is darkened as text on the page.
	if got := string(Theme(Brand{AccentColor: "#ffd54f"})); !strings.HasPrefix(got, ":root{--accent:#ffd54f;--on-accent:#000000;--accent-ink:#") ||
		strings.Contains(got, "--accent-ink:#ffd54f") {
		t.Errorf("light theme %q", got)
	}
}

// TestThemeContrast: whatever accent an organizer picks, the theme's text on
// it and its ink on the page's backgrounds meet WCAG 2's 4.5:1, and the ink
// is the accent itself when that already does. 4,096 colours span the space.
func TestThemeContrast(t *testing.T) {
	if got := contrast(white, black); math.Abs(got-21) > 1e-9 {
		t.Fatalf("contrast(white, black) = %v, want 21", got)
	}
	if got := contrast(rgb{0x76, 0x76, 0x76}, white); got < 4.5 || got > 4.6 {
		t.Fatalf("contrast(#767676, white) = %v, want the well-known 4.54", got)
	}
	css, err := assetFiles.ReadFile("assets/store.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"--bg: " + pageBackground.String(), "--soft: " + softBackground.String()} {
		if !strings.Contains(string(css), v) {
			t.Errorf("store.css's backgrounds changed: it lacks %q, which contrast.go assumes", v)
		}
	}
	for r := 0; r < 256; r += 17 {
		for g := 0; g < 256; g += 17 {
			for b := 0; b < 256; b += 17 {
				accent := rgb{uint8(r), uint8(g), uint8(b)}
				if c := contrast(textOn(accent), accent); c < minContrast {
					t.Errorf("%v: text %v on it has contrast %.2f", accent, textOn(accent), c)
				}
				ink := inkOf(accent)
				for _, bg := range []rgb{pageBackground, softBackground} {
					if c := contrast(ink, bg); c < minContrast {
						t.Errorf("%v: ink %v on %v has contrast %.2f", accent, ink, bg, c)
					}
				}
				if contrast(accent, softBackground) >= minContrast && ink != accent {
					t.Errorf("%v is readable, yet its ink is %v", accent, ink)
				}
			}
		}
	}
}

// TestPagesRender: every page parses and renders with an empty page's data
// where it allows, and names the organizer; an unknown page is an error.
func TestPagesRender(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signin", "signup"} {
		var buf bytes.Buffer
		p := Page{Brand: Brand{Name: "Acme <Events>"}, Title: "Sign in", Data: struct{ Next string }{"/"}}
		if err := s.Render(&buf, name, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(buf.String(), "Acme &lt;Events&gt;") || strings.Contains(buf.String(), "<Events>") {
			t.Errorf("%s does not escape the organizer's name", name)
		}
	}
	if err := s.Render(&bytes.Buffer{}, "nope", Page{}); err == nil {
		t.Error("an unknown page rendered")
	}
	for _, name := range []string{"store.css", "store.js", "admin.js", "jsQR.js", "widget.js"} {
		if a, ok := s.Asset(name); !ok || len(a.Body) == 0 || a.ETag == "" {
			t.Errorf("asset %s missing", name)
		}
	}
	if _, ok := s.Asset("PIN"); ok {
		t.Error("the vendoring pin is served")
	}
}
