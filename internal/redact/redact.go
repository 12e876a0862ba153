// Package redact hides credentials in connection URLs before they are
// logged or put into errors.
package redact

import "net/url"

// secretParams are query parameters that carry credentials in Postgres and
// Redis URLs.
var secretParams = []string{"password", "sslpassword", "pass", "sentinel_password"}

// URL returns raw with the password of its user info and of its query
// parameters replaced by "xxxxx".
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	q := u.Query()
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}
