package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docsFile is the file of the repository a docs asset is embedded from.
func docsFile(t *testing.T, name string) []byte {
	t.Helper()
	for _, p := range []string{"swaggerui/" + name, name} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	t.Fatalf("no file %s in internal/httpapi or its swaggerui/", name)
	return nil
}

var (
	docsReference = regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	docsScriptTag = regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`)
)

// TestAPIDocs checks that the docs page works offline and under a strict
// policy: it loads files of its own origin only, each served from the
// binary, and its policy admits nothing else.
func TestAPIDocs(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	page := api.do(request{method: "GET", path: "/api/docs"})
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs page: %d %s", page.status, page.header.Get("Content-Type"))
	}
	html := string(page.raw)

	var assets []string
	for _, m := range docsReference.FindAllStringSubmatch(html, -1) {
		if ref := m[1]; strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "//") {
			assets = append(assets, ref)
		}
	}
	if len(assets) == 0 {
		t.Fatalf("the page loads nothing of its own origin:\n%s", html)
	}

	t.Run("pageLoadsOwnOriginOnly", func(t *testing.T) {
		if strings.Contains(html, "http:") || strings.Contains(html, "https:") || strings.Contains(html, `"//`) {
			t.Errorf("the page names another origin:\n%s", html)
		}
		for _, m := range docsReference.FindAllStringSubmatch(html, -1) {
			if ref := m[1]; !strings.HasPrefix(ref, "data:") && !slices.Contains(assets, ref) {
				t.Errorf("the page loads %s, not a path of its own origin", ref)
			}
		}
		for _, m := range docsScriptTag.FindAllStringSubmatch(html, -1) {
			if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
				t.Errorf("inline script %q: the policy admits scripts of the origin only", m[0])
			}
		}
		var names []string
		for _, a := range assets {
			names = append(names, path.Base(a))
		}
		slices.Sort(names)
		if want := []string{"docs.js", "swagger-ui-bundle.js", "swagger-ui.css"}; !slices.Equal(names, want) {
			t.Errorf("the page loads %v, want %v", names, want)
		}
		if !strings.Contains(string(docsFile(t, "docs.js")), `url: "/api/openapi.json"`) {
			t.Error("docs.js does not point Swagger UI at /api/openapi.json")
		}
	})

	t.Run("pagePolicyStrict", func(t *testing.T) {
		csp := page.header.Get("Content-Security-Policy")
		directives := map[string]string{}
		for _, d := range strings.Split(csp, ";") {
			name, sources, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = sources
		}
		for name, want := range map[string]string{
			"default-src":     "'none'",
			"script-src":      "'self'",
			"style-src":       "'self'",
			"connect-src":     "'self'",
			"base-uri":        "'none'",
			"form-action":     "'none'",
			"frame-ancestors": "'none'",
		} {
			if directives[name] != want {
				t.Errorf("%s is %q, want %q (policy %q)", name, directives[name], want, csp)
			}
		}
		for _, loose := range []string{"http:", "https:", "*", "'unsafe-eval'", "'unsafe-inline'", "'unsafe-hashes'", "blob:"} {
			for name, sources := range directives {
				if slices.Contains(strings.Fields(sources), loose) {
					t.Errorf("%s admits %s (policy %q)", name, loose, csp)
				}
			}
		}
	})

	contentTypes := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	t.Run("assets200FromBinary", func(t *testing.T) {
		for _, a := range assets {
			res := api.do(request{method: "GET", path: a})
			if res.status != 200 {
				t.Errorf("%s: status %d: %.200s", a, res.status, res.raw)
				continue
			}
			for header, want := range map[string]string{
				"Content-Type":           contentTypes[path.Ext(a)],
				"Cache-Control":          "public, max-age=31536000, immutable",
				"X-Content-Type-Options": "nosniff",
				"Vary":                   "Accept-Encoding",
				"Content-Encoding":       "",
			} {
				if got := res.header.Get(header); got != want {
					t.Errorf("%s: %s %q, want %q", a, header, got, want)
				}
			}
			if res.header.Get("ETag") == "" {
				t.Errorf("%s: no ETag", a)
			}
			if want := docsFile(t, path.Base(a)); len(res.raw) == 0 || !bytes.Equal(res.raw, want) {
				t.Errorf("%s: %d bytes, not the %d of the embedded file", a, len(res.raw), len(want))
			}
		}
	})

	t.Run("assetsGzipped", func(t *testing.T) {
		for _, a := range assets {
			res := api.do(request{method: "GET", path: a, headers: map[string]string{"Accept-Encoding": "br;q=1, gzip;q=0.8"}})
			if res.status != 200 || res.header.Get("Content-Encoding") != "gzip" {
				t.Errorf("%s: status %d, Content-Encoding %q", a, res.status, res.header.Get("Content-Encoding"))
				continue
			}
			zr, err := gzip.NewReader(bytes.NewReader(res.raw))
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			if want := docsFile(t, path.Base(a)); !bytes.Equal(plain, want) {
				t.Errorf("%s: gunzipped to %d bytes, not the %d of the embedded file", a, len(plain), len(want))
			}
			if len(res.raw) >= len(plain) {
				t.Errorf("%s: gzipped %d bytes, plain %d", a, len(res.raw), len(plain))
			}
			if res.header.Get("Content-Type") != contentTypes[path.Ext(a)] {
				t.Errorf("%s: Content-Type %q", a, res.header.Get("Content-Type"))
			}
			refused := api.do(request{method: "GET", path: a, headers: map[string]string{"Accept-Encoding": "gzip;q=0"}})
			if refused.header.Get("Content-Encoding") != "" || !bytes.Equal(refused.raw, plain) {
				t.Errorf("%s: gzip;q=0 answered with Content-Encoding %q", a, refused.header.Get("Content-Encoding"))
			}
		}
	})

	t.Run("asset304WhenCached", func(t *testing.T) {
		for _, encoding := range []string{"", "gzip"} {
			headers := map[string]string{"Accept-Encoding": encoding}
			first := api.do(request{method: "GET", path: assets[0], headers: headers})
			headers["If-None-Match"] = first.header.Get("ETag")
			again := api.do(request{method: "GET", path: assets[0], headers: headers})
			if again.status != 304 || len(again.raw) != 0 {
				t.Errorf("Accept-Encoding %q, If-None-Match %s: status %d, %d bytes", encoding, first.header.Get("ETag"), again.status, len(again.raw))
			}
		}
	})

	t.Run("asset404", func(t *testing.T) {
		version := path.Base(path.Dir(assets[0]))
		for name, p := range map[string]string{
			"unknownFile":   "/api/docs/assets/" + version + "/swagger-ui-standalone-preset.js",
			"sourceMap":     "/api/docs/assets/" + version + "/swagger-ui-bundle.js.map",
			"pinFile":       "/api/docs/assets/" + version + "/PIN",
			"otherVersion":  "/api/docs/assets/5.0.0/swagger-ui-bundle.js",
			"noVersion":     "/api/docs/assets/swagger-ui-bundle.js",
			"pathTraversal": "/api/docs/assets/" + version + "/..%2fdocs.go",
		} {
			t.Run(name, func(t *testing.T) {
				assertError(t, api.do(request{method: "GET", path: p}), 404, "NOT_FOUND")
			})
		}
	})
}
