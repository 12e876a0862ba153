package httpapi_test

import (
	"testing"
)

// TestInvalidTextIs400: a NUL or invalid UTF-8 in a body, a query
// parameter or a header that reaches SQL is a 400, never Postgres's 500.
func TestInvalidTextIs400(t *testing.T) {
	t.Parallel()
	api := newTestAPI(t)
	api.createTenant("acme")
	admin := api.signinAdmin("acme")
	host := "acme.tickets.test"
	bearer := map[string]string{"Authorization": "Bearer " + admin.access}
	for name, r := range map[string]request{
		"venueNameWithNUL400":  {method: "POST", path: "/v1/venues", host: host, headers: bearer, body: `{"name":"Hall\u0000","timezone":"Africa/Lagos","capacity":10}`},
		"signupNameWithNUL400": {method: "POST", path: "/v1/auth/signup", host: host, body: `{"email":"ada@example.com","password":"long-enough-1","name":"A\u0000da"}`},
		"eventSearchNUL400":    {method: "GET", path: "/v1/events?q=%00", host: host},
		"eventSearchBadUTF400": {method: "GET", path: "/v1/events?q=%ff%fe", host: host},
		"userEmailNUL400":      {method: "GET", path: "/v1/users?email=a%00b", host: host, headers: bearer},
		"idempotencyKey400": {method: "POST", path: "/v1/bookings", host: host, headers: map[string]string{"Authorization": "Bearer " + admin.access, "Idempotency-Key": "k\xff"},
			body: `{"eventId":"00000000-0000-4000-8000-000000000000","items":[{"ticketTypeId":"00000000-0000-4000-8000-000000000001","quantity":1}]}`},
		"pathBadUTF400": {method: "GET", path: "/v1/events/%ff", host: host},
	} {
		t.Run(name, func(t *testing.T) {
			assertError(t, api.do(r), 400, "VALIDATION_FAILED")
		})
	}
	// Text that is merely unusual is fine.
	if res := api.do(request{method: "GET", path: "/v1/events?q=%C3%A9t%C3%A9", host: host}); res.status != 200 {
		t.Fatalf("a search for été: %d %s", res.status, res.raw)
	}
}
