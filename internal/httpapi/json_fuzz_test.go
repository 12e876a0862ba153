package httpapi

import (
	"errors"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// FuzzVenueBody sends arbitrary bodies through the JSON decoder, the layout
// conversion and the venue validator, as POST /v1/venues does before it
// touches the database. Whatever the body, the answer is a clear 400 or an
// input that is text only and within the layout limits; nothing panics.
// `make test` fuzzes it for a few seconds.
func FuzzVenueBody(f *testing.F) {
	fuzzBody(f, []string{
		`{"name":"Hall","timezone":"Africa/Lagos","capacity":10}`,
		`{"name":"Hall","timezone":"Africa/Lagos","layout":{"sections":[{"name":"A","rows":[{"label":"1","seats":20},{"label":"2","seats":["1","5"]}]}]}}`,
		`{"name":"Hall\u0000","timezone":"UTC","capacity":1}`,
		`{"name":"\xff","layout":{"sections":[{"name":"A","rows":[{"label":"1","seats":1e30}]}]}}`,
		`{"layout":{"sections":[{"name":"A","rows":[{"label":"1","seats":[1,2]}]}]}}`,
	}, func(c *fiber.Ctx) error {
		var req createVenueRequest
		if err := decoded(c, &req); err != nil {
			return err
		}
		layout, err := req.Layout.toInput()
		if err != nil {
			return err
		}
		v := ticketing.NewVenue{Name: req.Name, Address: req.Address, City: req.City, Timezone: req.Timezone, Capacity: req.Capacity, Layout: layout}
		if err := v.Validate(); err != nil {
			return err
		}
		if v.Built != nil && v.Built.Count() > ticketing.MaxLayoutSeats {
			return errors.New("a layout over the limits was accepted")
		}
		return nil
	})
}

// FuzzBookingBody does the same for POST /v1/bookings: the decoder, the
// conversion and the booking validator.
func FuzzBookingBody(f *testing.F) {
	fuzzBody(f, []string{
		`{"eventId":"00000000-0000-4000-8000-000000000000","items":[{"ticketTypeId":"00000000-0000-4000-8000-000000000001","quantity":2}]}`,
		`{"eventId":"00000000-0000-4000-8000-000000000000","seats":["00000000-0000-4000-8000-000000000002"]}`,
		`{"eventId":"x","ticketTypeId":"y","quantity":-1,"items":[{}]}`,
		`{"seats":["\u0000"]}`,
	}, func(c *fiber.Ctx) error {
		var req bookingRequest
		if err := decoded(c, &req); err != nil {
			return err
		}
		n, err := req.toNew("")
		if err != nil {
			return err
		}
		if err := n.Validate(); err != nil {
			return err
		}
		if len(n.Items)+len(n.Seats) > ticketing.MaxTicketsPerBooking {
			return errors.New("a booking over the limit was accepted")
		}
		return nil
	})
}

// decoded is decodeJSON, checking what it promises of the text it accepts.
func decoded(c *fiber.Ctx, v any) error {
	if err := decodeJSON(c, v); err != nil {
		return err
	}
	if !textOnly(reflect.ValueOf(v)) {
		return errors.New("decoded text with NUL or invalid UTF-8")
	}
	return nil
}

// fuzzBody fuzzes a handler with JSON bodies: it must answer a clear 400
// (one application error of kind invalid, with messages) or accept the
// body (nil); any other error, or a panic, fails.
func fuzzBody(f *testing.F, seeds []string, handle func(c *fiber.Ctx) error) {
	for _, seed := range append(seeds, `[]`, `{`, `{"name":1}`, `{"unknown":true}`, `{} {}`, ``) {
		f.Add(seed)
	}
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		if e := ticketing.AsError(err); e != nil && e.Kind == ticketing.KindInvalid && len(e.Messages) > 0 {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		return c.Status(fiber.StatusInternalServerError).SendString(err.Error())
	}})
	app.Post("/", func(c *fiber.Ctx) error {
		if err := handle(c); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != fiber.StatusBadRequest && res.StatusCode != fiber.StatusNoContent {
			msg, _ := io.ReadAll(res.Body)
			t.Fatalf("body %q: %d %s", body, res.StatusCode, msg)
		}
	})
}
