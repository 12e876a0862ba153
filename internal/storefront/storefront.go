// Package storefront renders the organizers' hosted shop: server-rendered
// HTML pages (html/template) with one stylesheet and one script of its own,
// embedded in the binary, no CDN. The pages read what the HTTP layer gives
// them (the same views the JSON API returns); buying, signing in and paying
// go through the JSON API from the script, so the shop enforces exactly what
// the API enforces.
//
// Every page is served under a strict content security policy (Policy): its
// own origin's scripts and styles only, no inline code, images of its own
// origin and of the organizer's logo, frames refused. The organizer's accent
// colour comes in through a stylesheet of its own (Theme), since inline
// styles are refused too; whatever the colour, text drawn in it or on it
// stays readable (contrast.go).
package storefront

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets/*.css assets/*.js assets/vendor/jsQR.js
var assetFiles embed.FS

// Brand is what a page shows of the organizer.
type Brand struct {
	Name        string
	LogoURL     string
	AccentColor string
}

// Viewer is the signed-in visitor, if any.
type Viewer struct {
	UserID string
	Role   string
}

// Page is what every page template gets: the organizer, the visitor, the
// page's title and its own data.
type Page struct {
	Brand  Brand
	Viewer *Viewer
	Title  string
	// Path is the page's path, for links that come back to it.
	Path string
	// Scripts are the page's own scripts (asset names), after the shop's.
	Scripts []string
	// Embed is a page shown in another site's frame (the widget): no
	// header or footer, and framing allowed (EmbedPolicy).
	Embed bool
	Data  any
}

// Asset is a file of the shop, served under a versioned path.
type Asset struct {
	Body        []byte
	ContentType string
	ETag        string
}

// Shop holds the parsed templates and the assets.
type Shop struct {
	pages   map[string]*template.Template
	assets  map[string]Asset
	version string
}

// New parses the templates and reads the assets.
func New() (*Shop, error) {
	s := &Shop{pages: map[string]*template.Template{}, assets: map[string]Asset{}}
	h := sha256.New()
	err := fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		s.assets[name] = Asset{Body: body, ContentType: contentType(name), ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.Write(sum[:])
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.version = hex.EncodeToString(h.Sum(nil)[:6])
	layout, err := template.New("layout.html").Funcs(s.funcs()).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	entries, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range entries {
		name := strings.TrimSuffix(path.Base(p), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, p)
		if err != nil {
			return nil, fmt.Errorf("storefront: %s: %w", p, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// Version names the current assets; it is part of their paths, so they can
// be cached for good.
func (s *Shop) Version() string { return s.version }

// Asset returns the asset called name.
func (s *Shop) Asset(name string) (Asset, bool) {
	a, ok := s.assets[name]
	return a, ok
}

// Render writes page name with p.
func (s *Shop) Render(w io.Writer, name string, p Page) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("storefront: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return fmt.Errorf("storefront: rendering %s: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Shop) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": func(name string) string { return "/assets/shop/" + s.version + "/" + name },
		"money": Money,
		"when":  When,
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"add":   func(a, b int) int { return a + b },
	}
}

// Money formats an amount in minor units of currency, e.g. "NGN 5,000.00".
// Every currency the platform settles in has two decimals.
func Money(amount int64, currency string) string {
	neg := amount < 0
	if neg {
		amount = -amount
	}
	whole, cents := amount/100, amount%100
	digits := fmt.Sprint(whole)
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%s %s.%02d", sign, currency, b.String(), cents)
}

// When formats t in the time zone tz (the venue's, or UTC when that is not
// a zone: no venue, as for an account), naming the zone, e.g.
// "Sat 12 Dec 2026, 19:30 WAT". Every time a page shows goes through it,
// so that a buyer reads an event's times, and the holds and payments of its
// bookings, as the venue's clock tells them. A zone without an
// abbreviation of its own is named by its offset ("+04").
func When(t time.Time, tz string) string {
	return t.In(ticketing.Location(tz)).Format("Mon 2 Jan 2006, 15:04 MST")
}

// Policy is the content security policy of every page: nothing but the
// page's own origin, and images of the organizer's logo.
func Policy(b Brand) string {
	img := "'self' data:"
	if o := origin(b.LogoURL); o != "" {
		img += " " + o
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + img +
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// EmbedPolicy is Policy for the widget's page, which any site may frame:
// it shows what the shop shows anyone and changes nothing, and buying opens
// the shop in a tab of its own.
func EmbedPolicy(b Brand) string {
	return strings.Replace(Policy(b), "frame-ancestors 'none'", "frame-ancestors *", 1)
}

// origin returns the scheme and host of an http(s) URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, " ;'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// DefaultAccent is the accent colour of an organizer that set none.
const DefaultAccent = "#4f46e5"

// Theme is the stylesheet that carries the organizer's accent colour as
// --accent (for borders and button faces), with the colour of text on it as
// --on-accent and the accent as readable text on the page as --accent-ink
// (links, focus outlines, a chosen seat): see textOn and inkOf. A colour
// that is not #rrggbb is replaced by DefaultAccent.
func Theme(b Brand) []byte {
	accent, ok := parseRGB(b.AccentColor)
	if !ok {
		accent, _ = parseRGB(DefaultAccent)
	}
	return []byte(":root{--accent:" + accent.String() + ";--on-accent:" + textOn(accent).String() +
		";--accent-ink:" + inkOf(accent).String() + "}\n")
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}
