package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the OpenAPI 3 document; every route of routes() is in it
// (TestOpenAPICoversEveryRoute).
func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(openAPIDocument)
}

// swaggerUIVersion pins the Swagger UI assets the docs page loads.
const swaggerUIVersion = "5.17.14"

// docsPage is Swagger UI over /api/openapi.json. The browser loads the UI
// from a CDN; the service itself ships no front-end assets.
const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ticketd API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@` + swaggerUIVersion + `/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@` + swaggerUIVersion + `/swagger-ui-bundle.js"></script>
<script>` + docsScript + `</script>
</body>
</html>`

// docsScript starts Swagger UI; the page's CSP admits it by its hash.
const docsScript = `window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui"});`

var docsScriptHash = func() string {
	sum := sha256.Sum256([]byte(docsScript))
	return base64.StdEncoding.EncodeToString(sum[:])
}()

// apiDocs serves the Swagger UI page, with a content security policy that
// admits exactly its CDN assets and its inline start-up script.
func (s *Server) apiDocs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy,
		"default-src 'none'; script-src https://cdn.jsdelivr.net 'sha256-"+docsScriptHash+"'; style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: https://cdn.jsdelivr.net; connect-src 'self'; frame-ancestors 'none'")
	c.Type("html", "utf-8")
	return c.SendString(docsPage)
}
