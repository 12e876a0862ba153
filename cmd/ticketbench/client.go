package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// client talks to one ticketd over kept-alive connections. It uses fasthttp,
// whose client costs a fraction of net/http's CPU: on two cores the load
// generator competes for CPU with the server it measures.
type client struct {
	hc     *fasthttp.HostClient
	base   string // scheme and host of every request URI
	tenant string // X-Tenant of every request once set
}

func newClient(rawURL string, conns int, timeout time.Duration) (*client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("must look like http://host:port, not %q", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr += ":80"
	}
	hc := &fasthttp.HostClient{
		Addr: addr, MaxConns: conns, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxConnWaitTimeout: timeout, MaxIdleConnDuration: time.Minute, NoDefaultUserAgentHeader: true,
	}
	return &client{hc: hc, base: "http://" + u.Host}, nil
}

// apiError is the error body of ticketd.
type apiError struct {
	StatusCode int      `json:"statusCode"`
	Code       string   `json:"code"`
	Message    []string `json:"message"`
	RequestID  string   `json:"requestId"`
}

// call sends one JSON request (in may be nil), fails unless the answer has
// status want, and decodes the answer into out when it is not nil. It serves
// provisioning and checks, not the measured load.
func (c *client) call(method, path, bearer string, in, out any, want int) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(c.base + path)
	if c.tenant != "" {
		req.Header.Set("X-Tenant", c.tenant)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(b)
	}
	if err := c.hc.Do(req, resp); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode() != want {
		var e apiError
		_ = json.Unmarshal(resp.Body(), &e)
		return fmt.Errorf("%s %s: status %d, want %d: %s %s (request %s)", method, path,
			resp.StatusCode(), want, e.Code, strings.Join(e.Message, "; "), e.RequestID)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body(), out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

var (
	headerAuthorization = []byte("Authorization")
	headerTenant        = []byte("X-Tenant")
	headerIdempotency   = []byte("Idempotency-Key")
	methodPost          = []byte("POST")
	contentTypeJSON     = []byte("application/json")
)

// book sends one booking attempt: bearer is the whole Authorization value,
// body the JSON request, key the Idempotency-Key (none when nil). It returns the HTTP status, 0 when no answer came,
// and the error code of any answer but 201 (for no answer, what went wrong).
func (c *client) book(uri string, bearer, body, key []byte) (status int, code string) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethodBytes(methodPost)
	req.SetRequestURI(uri)
	req.Header.SetBytesKV(headerTenant, []byte(c.tenant))
	req.Header.SetBytesKV(headerAuthorization, bearer)
	if key != nil {
		req.Header.SetBytesKV(headerIdempotency, key)
	}
	req.Header.SetContentTypeBytes(contentTypeJSON)
	req.SetBodyRaw(body)
	if err := c.hc.Do(req, resp); err != nil {
		return 0, transportCode(err)
	}
	status = resp.StatusCode()
	if status == fasthttp.StatusCreated {
		return status, ""
	}
	return status, errorCode(resp.Body())
}

var codeField = []byte(`"code":"`)

// errorCode returns the code of an error body of ticketd, found without a
// JSON decoder: an on-sale answers thousands of refusals a second, and the
// load generator shares the machine with the server it measures.
func errorCode(body []byte) string {
	i := bytes.Index(body, codeField)
	if i < 0 {
		return "(no error code)"
	}
	rest := body[i+len(codeField):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 {
		return "(no error code)"
	}
	return string(rest[:j])
}

// transportCode names a request that got no answer, for the counts.
func transportCode(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connection"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	}
	return err.Error()
}

// warm opens n connections (GET /healthz from n goroutines at once), so a
// phase does not start by paying for the TCP handshakes.
func warm(c *client, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_ = c.call("GET", "/healthz", "", nil, nil, 200)
		})
	}
	wg.Wait()
}

// commitTotals are ticketd's group-commit counters at one moment.
type commitTotals struct {
	commits, bookings, seconds float64
}

// groupCommits reads ticketd's group-commit counters from the /metrics of
// c (the -metrics client); ok is false when they cannot be read (an older
// ticketd, or one serving /metrics on a METRICS_ADDR that -metrics does not
// name).
func (c *client) groupCommits() (t commitTotals, ok bool) {
	v, ok := c.metricValues("ticketd_booking_commit_bookings_count", "ticketd_booking_commit_bookings_sum",
		"ticketd_booking_commit_duration_seconds_sum")
	if !ok {
		return t, false
	}
	return commitTotals{commits: v[0], bookings: v[1], seconds: v[2]}, true
}

// metricValues reads the samples named (without labels) from the /metrics
// of c, in the order given; ok is false unless every one was found.
func (c *client) metricValues(names ...string) (values []float64, ok bool) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + "/metrics")
	if err := c.hc.Do(req, resp); err != nil || resp.StatusCode() != fasthttp.StatusOK {
		return nil, false
	}
	values = make([]float64, len(names))
	found := 0
	for line := range strings.Lines(string(resp.Body())) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		i := slices.Index(names, name)
		if i < 0 {
			continue
		}
		if _, err := fmt.Sscan(value, &values[i]); err == nil {
			found++
		}
	}
	return values, found == len(names)
}
