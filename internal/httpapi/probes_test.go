package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ticketd-io/ticketd/internal/httpapi"
)

// probeBody is what the probes answer: {"status":...} or the API's error.
type probeBody struct {
	Status     string
	Version    string
	StatusCode int
	Code       string
	Message    []string
	RequestID  string
}

func probe(t *testing.T, h http.HandlerFunc) (int, probeBody) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/", nil))
	var body probeBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("not JSON: %q %q (%v)", rec.Header().Get("Content-Type"), rec.Body.String(), err)
	}
	return rec.Code, body
}

// TestProbesAnswerLikeTheAPI: the net/http probes of `ticketd work` answer
// with the bodies of the API's /healthz and /readyz.
func TestProbesAnswerLikeTheAPI(t *testing.T) {
	t.Parallel()
	live := true
	fail := func(context.Context) error { return errors.New("dial tcp: connection refused") }
	ok := func(context.Context) error { return nil }
	p := httpapi.Probes{
		Version: "1.2.3",
		Live:    func() bool { return live },
		Ready:   map[string]func(context.Context) error{"postgres": ok, "redis": ok},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	t.Run("healthz200", func(t *testing.T) {
		if status, body := probe(t, p.Healthz); status != 200 || body.Status != "ok" || body.Version != "1.2.3" {
			t.Fatalf("%d %+v", status, body)
		}
	})
	t.Run("readyz200", func(t *testing.T) {
		if status, body := probe(t, p.Readyz); status != 200 || body.Status != "ok" {
			t.Fatalf("%d %+v", status, body)
		}
	})
	t.Run("readyz503NamesWhatFailed", func(t *testing.T) {
		down := p
		down.Ready = map[string]func(context.Context) error{"postgres": fail, "redis": fail}
		status, body := probe(t, down.Readyz)
		want := []string{"postgres is not reachable", "redis is not reachable"}
		if status != 503 || body.StatusCode != 503 || body.Code != "UNAVAILABLE" || !slices.Equal(body.Message, want) || body.RequestID == "" {
			t.Fatalf("%d %+v", status, body)
		}
	})
	t.Run("healthz503WhileNotRunning", func(t *testing.T) {
		live = false
		if status, body := probe(t, p.Healthz); status != 503 || body.Code != "UNAVAILABLE" {
			t.Fatalf("%d %+v", status, body)
		}
	})
	// A stopping worker is not ready, whatever its dependencies say.
	t.Run("readyz503WhileNotRunning", func(t *testing.T) {
		live = false
		if status, body := probe(t, p.Readyz); status != 503 || body.Code != "UNAVAILABLE" || len(body.Message) != 1 {
			t.Fatalf("%d %+v", status, body)
		}
	})
}
