package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// errorBody is the one error shape of the API.
type errorBody struct {
	StatusCode int      `json:"statusCode"`
	Error      string   `json:"error"`
	Code       string   `json:"code"`
	Message    []string `json:"message"`
	RequestID  string   `json:"requestId"`
	// Details, when the error has them: machine-readable facts such as a
	// limit and what the caller already has.
	Details map[string]any `json:"details,omitempty"`
}

// statusByKind is the only mapping from application errors to HTTP status.
var statusByKind = map[ticketing.Kind]int{
	ticketing.KindInternal:         fiber.StatusInternalServerError,
	ticketing.KindInvalid:          fiber.StatusBadRequest,
	ticketing.KindUnauthorized:     fiber.StatusUnauthorized,
	ticketing.KindForbidden:        fiber.StatusForbidden,
	ticketing.KindNotFound:         fiber.StatusNotFound,
	ticketing.KindConflict:         fiber.StatusConflict,
	ticketing.KindUnprocessable:    fiber.StatusUnprocessableEntity,
	ticketing.KindTooManyRequests:  fiber.StatusTooManyRequests,
	ticketing.KindUnavailable:      fiber.StatusServiceUnavailable,
	ticketing.KindUnsupportedMedia: fiber.StatusUnsupportedMediaType,
}

// codeByStatus names the errors Fiber itself raises (unknown route, wrong
// method, oversized body).
var codeByStatus = map[int]string{
	fiber.StatusBadRequest:            ticketing.CodeValidation,
	fiber.StatusNotFound:              ticketing.CodeNotFound,
	fiber.StatusMethodNotAllowed:      "METHOD_NOT_ALLOWED",
	fiber.StatusRequestEntityTooLarge: "BODY_TOO_LARGE",
	fiber.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	fiber.StatusTooManyRequests:       ticketing.CodeTooManyRequests,
	fiber.StatusServiceUnavailable:    ticketing.CodeUnavailable,
}

// handleError is Fiber's ErrorHandler: every error of every route, of the
// middleware and of Fiber itself leaves here in the shape of errorBody.
// Internal errors are logged with their cause and reach the client only as
// "Internal Server Error" with the request id.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	body := errorBody{RequestID: requestIDOf(c)}
	if body.RequestID == "" {
		// Errors Fiber raises before any middleware ran (an oversized or
		// malformed request) still get an id to quote.
		body.RequestID = ticketing.NewID()
		c.Set(HeaderRequestID, body.RequestID)
	}
	var fe *fiber.Error
	switch appErr := ticketing.AsError(err); {
	case appErr != nil:
		body.StatusCode = statusByKind[appErr.Kind]
		body.Code = appErr.Code
		body.Message = appErr.Messages
		body.Details = appErr.Details
	case errors.As(err, &fe):
		body.StatusCode = fe.Code
		body.Code = codeByStatus[fe.Code]
		body.Message = []string{fe.Message}
	default:
		body.StatusCode = fiber.StatusInternalServerError
	}
	if body.StatusCode >= 500 {
		if body.StatusCode == fiber.StatusInternalServerError {
			body.Code, body.Message = ticketing.CodeInternal, []string{"Internal Server Error"}
		}
		s.deps.Logger.LogAttrs(c.UserContext(), slog.LevelError, "request failed",
			slog.String("requestId", body.RequestID), slog.String("route", routeOf(c)), slog.String("error", err.Error()))
		trace.SpanFromContext(c.UserContext()).RecordError(err)
	}
	if body.Code == "" {
		body.Code = strings.ToUpper(strings.ReplaceAll(http.StatusText(body.StatusCode), " ", "_"))
	}
	body.Error = http.StatusText(body.StatusCode)
	if body.StatusCode == fiber.StatusUnauthorized {
		c.Set(fiber.HeaderWWWAuthenticate, "Bearer")
	}
	if body.StatusCode == fiber.StatusMethodNotAllowed {
		// Fiber has already set Allow; the body says the same for humans.
		body.Message = []string{c.Method() + " is not allowed here; allowed: " + string(c.Response().Header.Peek(fiber.HeaderAllow))}
	}
	if scope, _ := c.Locals(localScope).(scope); scope == scopePage && c.Method() == fiber.MethodGet {
		return s.shopError(c, body.StatusCode, body.Code, body.Message)
	}
	return c.Status(body.StatusCode).JSON(body)
}

// invalid is a 400 with one message, for input the handler itself rejects.
func invalid(format string, args ...any) error {
	return ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, format, args...)
}

// queryInt reads an optional integer query parameter.
func queryInt(c *fiber.Ctx, name string) (int, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, invalid("%s must be a positive whole number", name)
	}
	return n, nil
}
