package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the OpenAPI 3 document; every route of routes() is in it
// (TestOpenAPICoversEveryRoute).
func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(openAPIDocument)
}

// docsFiles are what the docs page loads: Swagger UI, vendored unchanged
// from the npm package swagger-ui-dist (swaggerui/README.md, `make
// swagger-ui`), and docs.js, which starts it. They are served from the
// binary, so the page works offline and runs no third-party script.
//
//go:embed swaggerui/swagger-ui-bundle.js swaggerui/swagger-ui.css docs.js
var docsFiles embed.FS

// swaggerUIPin is "swagger-ui-dist@<version> <integrity>", the package the
// files of swaggerui/ come from.
//
//go:embed swaggerui/PIN
var swaggerUIPin string

// swaggerUIVersion is the swagger-ui-dist version of swaggerui/.
var swaggerUIVersion = strings.TrimPrefix(strings.Fields(swaggerUIPin)[0], "swagger-ui-dist@")

// docsAsset is one file of docsFiles, ready to serve.
type docsAsset struct {
	body        []byte
	contentType string
	etag        string
	// gzipped is body compressed once, on the first request that accepts
	// it (the bundle is 1.7 MB, about a quarter of that gzipped); nil when
	// it could not be, and body is served.
	gzipped func() []byte
}

// docsAssets are docsFiles by base name. docsAssetsVersion, the path
// segment that names them, is the Swagger UI version and a hash of every
// file: it changes whenever a response would, docs.js included, which is
// what lets a browser cache each response as immutable.
var docsAssets, docsAssetsVersion = loadDocsAssets()

// docsAssetsPath is where the docs page finds its files.
var docsAssetsPath = "/api/docs/assets/" + docsAssetsVersion + "/"

// docsContentTypes are the types of docsFiles, by extension.
var docsContentTypes = map[string]string{
	".js":  fiber.MIMETextJavaScriptCharsetUTF8,
	".css": "text/css; charset=utf-8",
}

// loadDocsAssets reads docsFiles and hashes them; it panics only if the
// embedded files cannot be read, or one has no content type.
func loadDocsAssets() (map[string]*docsAsset, string) {
	assets := map[string]*docsAsset{}
	all := sha256.New()
	err := fs.WalkDir(docsFiles, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := docsFiles.ReadFile(name)
		if err != nil {
			return err
		}
		contentType, ok := docsContentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", name)
		}
		sum := sha256.Sum256(body)
		all.Write(sum[:])
		assets[path.Base(name)] = &docsAsset{
			body:        body,
			contentType: contentType,
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
			gzipped:     sync.OnceValue(func() []byte { return gzipOf(body, gzip.BestCompression) }),
		}
		return nil
	})
	if err != nil {
		panic("httpapi: reading the embedded docs assets: " + err.Error())
	}
	return assets, swaggerUIVersion + "-" + hex.EncodeToString(all.Sum(nil)[:6])
}

// gzipOf compresses b at level, or returns nil if it cannot.
func gzipOf(b []byte, level int) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err == nil {
		_, err = zw.Write(b)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil
	}
	return buf.Bytes()
}

// docsPage is Swagger UI over /api/openapi.json. It loads only files of
// its own origin and has no inline script (docs.js starts the UI), so its
// policy (docsPolicy) admits nothing else. The empty data: icon spares the
// browser a request for /favicon.ico.
var docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ticketd API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="` + docsAssetsPath + `swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="` + docsAssetsPath + `swagger-ui-bundle.js"></script>
<script src="` + docsAssetsPath + `docs.js"></script>
</body>
</html>`

// docsPolicy is the content security policy of the docs page: its own
// scripts and styles, images of its own or inline data: (the icons of
// swagger-ui.css), requests to its own origin ("Try it out"). No
// 'unsafe-inline' for styles: Swagger UI (React) sets element styles
// through the DOM, which style-src does not govern. No 'unsafe-eval': the
// bundle's one new Function is a guarded fallback for browsers without
// globalThis. Headless Chromium reports no violation rendering the page and
// trying an operation.
const docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// apiDocs serves the Swagger UI page.
func (s *Server) apiDocs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, docsPolicy)
	c.Type("html", "utf-8")
	return c.SendString(docsPage)
}

// errNoDocsAsset is a request for a file the docs page does not load, or
// for one of another version.
var errNoDocsAsset = ticketing.Errorf(ticketing.KindNotFound, ticketing.CodeNotFound, "no such file of the API documentation")

// docsAsset serves a file of the docs page, gzipped when the client accepts
// it, cacheable for a year: another version of the file has another path.
func (s *Server) docsAsset(c *fiber.Ctx) error {
	a, ok := docsAssets[c.Params("name")]
	if !ok || c.Params("version") != docsAssetsVersion {
		return errNoDocsAsset
	}
	c.Set(fiber.HeaderContentType, a.contentType)
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	body, etag := a.body, a.etag
	if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		if gz := a.gzipped(); gz != nil {
			body, etag = gz, strings.TrimSuffix(etag, `"`)+`-gzip"`
			c.Set(fiber.HeaderContentEncoding, "gzip")
		}
	}
	c.Set(fiber.HeaderETag, etag)
	if c.Fresh() {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(body)
}
