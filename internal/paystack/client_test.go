package paystack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "sk_test_r3m3mb3r2pu70nasm1l3"

const okVerifyBody = `{"status":true,"message":"Verification successful","data":{"id":4099260516,"status":"success","reference":"ref-1","amount":500000,"currency":"NGN"}}`

const okInitializeBody = `{"status":true,"message":"Authorization URL created","data":{"authorization_url":"https://checkout.paystack.com/3ni8kdavz62431k","access_code":"3ni8kdavz62431k","reference":"ref-1"}}`

// server is a real HTTP server whose first `failures` requests get the
// answer of fail, and the rest the answer of ok. It counts requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, failures int64, fail, ok http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hits.Add(1) <= failures {
			fail(w, r)
			return
		}
		ok(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// hangUp closes the connection after the request arrived, without an answer.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func fastRetries(n int) []Option {
	return []Option{WithRetries(n), WithBackoff(time.Millisecond, 2*time.Millisecond), WithTimeout(5 * time.Second)}
}

func TestVerifyRetriedAfterConnectionDropped(t *testing.T) {
	t.Parallel()
	s := newServer(t, 2, hangUp, answer(200, okVerifyBody))
	c := New(s.URL, testKey, fastRetries(2)...)
	tx, err := c.Verify(context.Background(), "ref-1")
	if err != nil {
		t.Fatal(err)
	}
	if tx.Status != StatusSuccess || tx.Amount != 500000 || s.hits.Load() != 3 {
		t.Errorf("tx %+v after %d requests", tx, s.hits.Load())
	}
}

func TestPostNotRetriedOnceItReachedTheServer(t *testing.T) {
	t.Parallel()
	s := newServer(t, 100, hangUp, answer(200, okInitializeBody))
	c := New(s.URL, testKey, fastRetries(3)...)
	_, err := c.Initialize(context.Background(), InitializeRequest{Email: "a@b.co", Amount: 10000, Reference: "ref-1"})
	if err == nil {
		t.Fatal("initialize succeeded against a server that hangs up")
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Errorf("a network error became an APIError: %v", err)
	}
	_, err = c.Refund(context.Background(), RefundRequest{Transaction: "ref-1"})
	if err == nil {
		t.Fatal("refund succeeded against a server that hangs up")
	}
	if got := s.hits.Load(); got != 2 {
		t.Errorf("server saw %d requests, want 1 per POST", got)
	}
}

func TestPostRetriedWhenConnectionFailed(t *testing.T) {
	t.Parallel()
	s := newServer(t, 0, nil, answer(200, okInitializeBody))
	var dials atomic.Int64
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= 2 {
				// A real refused connection: nothing listens on port 1.
				return d.DialContext(ctx, network, "127.0.0.1:1")
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
	c := New(s.URL, testKey, append(fastRetries(2), WithHTTPClient(hc))...)
	auth, err := c.Initialize(context.Background(), InitializeRequest{Email: "a@b.co", Amount: 10000, Reference: "ref-1"})
	if err != nil {
		t.Fatal(err)
	}
	if auth.AccessCode != "3ni8kdavz62431k" || s.hits.Load() != 1 || dials.Load() != 3 {
		t.Errorf("auth %+v, %d requests, %d dials", auth, s.hits.Load(), dials.Load())
	}
}

func TestAnswersAreNotRetriedExceptGatewayErrorsOnGet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		status   int
		post     bool
		wantHits int64
		wantOK   bool
	}{
		{"get500", 500, false, 1, false},
		{"get400", 400, false, 1, false},
		{"get404", 404, false, 1, false},
		{"get429", 429, false, 1, false},
		{"get502", 502, false, 2, true},
		{"get503", 503, false, 2, true},
		{"get504", 504, false, 2, true},
		{"post503", 503, true, 1, false},
		{"post500", 500, true, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := okVerifyBody
			if tc.post {
				body = okInitializeBody
			}
			s := newServer(t, 1, answer(tc.status, `{"status":false,"message":"x"}`), answer(200, body))
			c := New(s.URL, testKey, fastRetries(3)...)
			var err error
			if tc.post {
				_, err = c.Initialize(context.Background(), InitializeRequest{Email: "a@b.co", Amount: 1})
			} else {
				_, err = c.Verify(context.Background(), "ref-1")
			}
			if (err == nil) != tc.wantOK || s.hits.Load() != tc.wantHits {
				t.Errorf("err %v after %d requests", err, s.hits.Load())
			}
			var ae *APIError
			if err != nil && (!errors.As(err, &ae) || ae.StatusCode != tc.status) {
				t.Errorf("err %v, want an APIError with status %d", err, tc.status)
			}
		})
	}
}

// TestTimeoutPerAttempt: an attempt that outlasts the per-attempt timeout
// is given up and retried, and the last one ends in a deadline error. The
// server would hang for a minute; the timeout is short beside that, and
// long enough for a request to reach the server on a busy machine.
func TestTimeoutPerAttempt(t *testing.T) {
	t.Parallel()
	const hang = time.Minute
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(hang):
		}
	}
	s := newServer(t, 1000, slow, nil)
	c := New(s.URL, testKey, WithTimeout(time.Second), WithRetries(1), WithBackoff(time.Millisecond, time.Millisecond))
	start := time.Now()
	_, err := c.Verify(context.Background(), "ref-1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline error", err)
	}
	if s.hits.Load() != 2 || time.Since(start) > hang/2 {
		t.Errorf("%d requests in %v", s.hits.Load(), time.Since(start))
	}
}

// TestCanceledContextStopsRetries: a context that ends during the backoff
// ends the wait at once. The backoff is a minute, so a wait that ignored
// the context would show, however busy the machine.
func TestCanceledContextStopsRetries(t *testing.T) {
	t.Parallel()
	s := newServer(t, 1000, hangUp, nil)
	c := New(s.URL, testKey, WithRetries(100), WithBackoff(time.Minute, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Verify(ctx, "ref-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("retries outlived the context: %v", time.Since(start))
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var req *http.Request
	var reqBody string
	s := newServer(t, 0, nil, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		req, reqBody = r.Clone(context.Background()), string(b)
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/transaction/verify/") {
			answer(200, okVerifyBody)(w, r)
			return
		}
		answer(200, `{"status":true,"message":"ok","data":[],"meta":{"total":0}}`)(w, r)
	})
	last := func() (*http.Request, string) {
		mu.Lock()
		defer mu.Unlock()
		return req, reqBody
	}
	c := New(s.URL+"/", testKey, fastRetries(0)...)
	ctx := context.Background()

	if _, err := c.Verify(ctx, "bk-1/2?x y"); err != nil {
		t.Fatal(err)
	}
	got, _ := last()
	if p := got.URL.EscapedPath(); p != "/transaction/verify/bk-1%2F2%3Fx%20y" {
		t.Errorf("path %q", p)
	}
	if a := got.Header.Get("Authorization"); a != "Bearer "+testKey {
		t.Errorf("Authorization %q", a)
	}

	from := time.Date(2024, 8, 1, 1, 0, 0, 0, time.FixedZone("WAT", 3600))
	to := time.Date(2024, 8, 31, 23, 59, 59, 999e6, time.UTC)
	if _, _, err := c.ListTransactions(ctx, ListOptions{From: from, To: to, PerPage: 50, Page: 2, Status: StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	got, _ = last()
	q := got.URL.Query()
	if got.URL.Path != "/transaction" || q.Get("from") != "2024-08-01T00:00:00.000Z" || q.Get("to") != "2024-08-31T23:59:59.999Z" ||
		q.Get("perPage") != "50" || q.Get("page") != "2" || q.Get("status") != "success" {
		t.Errorf("list request %s", got.URL)
	}

	_, _ = c.Initialize(ctx, InitializeRequest{
		Email: "a@b.co", Amount: 500000, Currency: "NGN", Reference: "bk-1-1", CallbackURL: "https://t.example/cb",
		Metadata: map[string]any{"tenant": "t1"}, Subaccount: "ACCT_x", TransactionCharge: new(int64(5000)), Bearer: "account",
	})
	got, body := last()
	want := `{"email":"a@b.co","amount":500000,"currency":"NGN","reference":"bk-1-1","callback_url":"https://t.example/cb","metadata":{"tenant":"t1"},"subaccount":"ACCT_x","transaction_charge":5000,"bearer":"account"}`
	if got.Method != http.MethodPost || got.URL.Path != "/transaction/initialize" || body != want ||
		got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("initialize %s %s %s", got.Method, got.URL.Path, body)
	}

	_, _ = c.Refund(ctx, RefundRequest{Transaction: "bk-1-1", Amount: 1000, MerchantNote: "sold out"})
	_, body = last()
	if want := `{"transaction":"bk-1-1","amount":1000,"merchant_note":"sold out"}`; body != want {
		t.Errorf("refund body %s", body)
	}
}

func TestEmptyIdentifiersRejectedLocally(t *testing.T) {
	t.Parallel()
	c := New("http://127.0.0.1:1", testKey)
	if _, err := c.Verify(context.Background(), ""); err == nil {
		t.Error("Verify accepted an empty reference")
	}
	if _, err := c.FetchRefund(context.Background(), ""); err == nil {
		t.Error("FetchRefund accepted an empty id")
	}
}

func TestSecretKeyNeverShown(t *testing.T) {
	t.Parallel()
	s := newServer(t, 1, answer(401, `{"status":false,"message":"Invalid key"}`), hangUp)
	c := New(s.URL, testKey, fastRetries(0)...)
	_, err401 := c.Verify(context.Background(), "ref-1")
	_, errNet := c.Verify(context.Background(), "ref-1")
	for _, text := range []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprint(err401), fmt.Sprintf("%+v", errNet),
	} {
		if strings.Contains(text, "r3m3mb3r2pu70nasm1l3") {
			t.Errorf("secret key shown: %s", text)
		}
	}
	var ae *APIError
	if !errors.As(err401, &ae) || ae.StatusCode != 401 || ae.Message != "Invalid key" || errNet == nil {
		t.Errorf("errors %v, %v", err401, errNet)
	}
}

func TestLiveKeyNeverSentInCleartext(t *testing.T) {
	t.Parallel()
	s := newServer(t, 0, nil, answer(200, okVerifyBody))
	c := New(s.URL, "sk_live_r3m3mb3r2pu70nasm1l3", fastRetries(0)...)
	_, err := c.Verify(context.Background(), "ref-1")
	if err == nil || s.hits.Load() != 0 || strings.Contains(err.Error(), "r3m3mb3r2pu70nasm1l3") {
		t.Errorf("err %v after %d requests", err, s.hits.Load())
	}
	ts := httptest.NewTLSServer(answer(200, okVerifyBody))
	t.Cleanup(ts.Close)
	c = New(ts.URL, "sk_live_r3m3mb3r2pu70nasm1l3", append(fastRetries(0), WithHTTPClient(ts.Client()))...)
	if _, err := c.Verify(context.Background(), "ref-1"); err != nil {
		t.Errorf("over HTTPS: %v", err)
	}
}
