package httpapi_test

import (
	"strings"
	"testing"
)

// TestConsoleVenuePages: the console's venues for the organizer's ADMIN
// only: the list, the new venue's form and a venue's form with its stored
// layout as the editor's sections and rows (a row numbered 1..n as its
// count, another as its seat labels) and its delete button, and the list
// after a deletion; another organizer's venue is a 404
// page, a buyer gets a 403 page, a visitor is sent to sign in.
func TestConsoleVenuePages(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	seated := c.venue(map[string]any{"sections": []map[string]any{
		{"name": "Orchestra", "rows": []map[string]any{{"label": "A", "seats": 3}, {"label": "B", "seats": []string{"1", "2", "5"}}}},
		{"name": "Balcony", "rows": []map[string]any{{"label": "C", "seats": 2}}},
	}})
	standing := c.venue(nil)
	c.createTenant("rival")
	rival := &catalog{testAPI: c.testAPI, slug: "rival", token: c.signinAdmin("rival").access}
	rivalVenue := rival.venue(nil)
	buyer := c.signup("acme", "buyer@example.com")
	seatID := seated["layout"].(map[string]any)["sections"].([]any)[0].(map[string]any)["rows"].([]any)[0].(map[string]any)["seats"].([]any)[0].(map[string]any)["id"].(string)

	t.Run("list200", func(t *testing.T) {
		res := c.page("acme", c.token, "/admin/venues")
		assertPage(t, res, 200, `href="/admin/venues/`+id(seated)+`"`, `href="/admin/venues/`+id(standing)+`"`,
			"8 seats", "1000 standing", `href="/admin/venues/new"`, `aria-current="page">Venues`)
		if strings.Contains(string(res.raw), id(rivalVenue)) {
			t.Error("the list shows another organizer's venue")
		}
	})
	t.Run("newForm200", func(t *testing.T) {
		res := c.page("acme", c.token, "/admin/venues/new")
		assertPage(t, res, 200, "Create venue", `name="timezone"`,
			"data-new-section", "data-new-row", "console-venues.js", "Africa/Lagos")
		if strings.Contains(string(res.raw), "data-delete-venue") {
			t.Error("a venue not yet created can be deleted")
		}
	})
	t.Run("venueForm200WithDelete", func(t *testing.T) {
		assertPage(t, c.page("acme", c.token, "/admin/venues/"+id(standing)), 200,
			`<button type="button" data-delete-venue data-confirm="Delete the venue “Main Hall”?`, ">Delete venue</button>")
	})
	t.Run("list200AfterDelete", func(t *testing.T) {
		assertPage(t, c.page("acme", c.token, "/admin/venues?deleted=1"), 200, `role="status">The venue was deleted.</p>`)
		if strings.Contains(string(c.page("acme", c.token, "/admin/venues").raw), "The venue was deleted.") {
			t.Error("the list says a venue was deleted when none was")
		}
	})
	t.Run("seatedVenue200WithLayout", func(t *testing.T) {
		res := c.page("acme", c.token, "/admin/venues/"+id(seated))
		assertPage(t, res, 200, `data-id="`+id(seated)+`"`, `data-version="1"`, "data-has-layout", "Save changes",
			`id="s0-name" data-section-name required maxlength="100" value="Orchestra"`,
			`id="s1-name" data-section-name required maxlength="100" value="Balcony"`,
			`id="s0r0-label" data-row-label required maxlength="10" value="A"`, `id="s0r0-seats" data-row-seats required value="3"`,
			`id="s0r1-seats" data-row-seats required value="1, 2, 5"`, `<option value="labels" selected>`,
			`id="s1r0-seats" data-row-seats required value="2"`,
			`data-seat-id="`+seatID+`">A-1</span>`, "B-5", "8 seats")
		if strings.Count(string(res.raw), "data-section>") != 3 { // two sections and the template of a new one
			t.Errorf("want two sections and a template:\n%s", res.raw)
		}
	})
	t.Run("standingVenue200WithCapacity", func(t *testing.T) {
		res := c.page("acme", c.token, "/admin/venues/"+id(standing))
		assertPage(t, res, 200, `name="capacity" type="number" min="1" inputmode="numeric" value="1000"`)
		if strings.Contains(string(res.raw), "data-has-layout") || strings.Contains(string(res.raw), "data-stored-layout") {
			t.Error("a standing venue shows a layout")
		}
	})
	t.Run("otherOrganizersVenue404", func(t *testing.T) {
		assertPage(t, c.page("acme", c.token, "/admin/venues/"+id(rivalVenue)), 404, "Not found")
		assertPage(t, c.page("acme", c.token, "/admin/venues/not-an-id"), 404, "Not found")
	})
	t.Run("buyer403", func(t *testing.T) {
		for _, p := range []string{"/admin/venues", "/admin/venues/new", "/admin/venues/" + id(seated)} {
			assertPage(t, c.page("acme", buyer.access, p), 403, "Not allowed")
		}
	})
	t.Run("visitorSentToSignIn", func(t *testing.T) {
		res := c.page("acme", "", "/admin/venues")
		if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/signin?next=%2Fadmin%2Fvenues") {
			t.Errorf("%d %s", res.status, res.header.Get("Location"))
		}
	})
	t.Run("eventFormLinksToVenues", func(t *testing.T) {
		assertPage(t, c.page("acme", c.token, "/admin/events/new"), 200, `<a href="/admin/venues">Manage venues</a>`)
	})
}
