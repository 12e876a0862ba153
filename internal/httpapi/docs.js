// Starts Swagger UI over this service's OpenAPI document (the docs page of
// docs.go). A file rather than an inline script, so that the page's content
// security policy admits scripts of its own origin and nothing else.
// validatorUrl: null, else the UI loads a badge from validator.swagger.io.
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#ui", validatorUrl: null });
