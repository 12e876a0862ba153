package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// Probes answers /healthz and /readyz over net/http with the bodies of the
// API's own, for a process that serves no API (`ticketd work`) on its
// internal listener.
type Probes struct {
	// Version is reported by /healthz.
	Version string
	// Live reports whether the process does its work; /healthz and /readyz
	// answer 503 while it does not (starting, stopping).
	Live func() bool
	// Ready are the dependency checks of /readyz, by name.
	Ready  map[string]func(context.Context) error
	Logger *slog.Logger
}

// notRunning is the message of the probes' 503 while the worker does not
// run.
const notRunning = "not running (starting or stopping)"

// Healthz answers {"status":"ok"} while Live, else 503.
func (p Probes) Healthz(w http.ResponseWriter, r *http.Request) {
	if !p.Live() {
		unavailable(w, []string{notRunning})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": p.Version})
}

// Readyz checks every dependency in parallel, as the API's /readyz does,
// while Live; else 503: a stopping worker is not ready.
func (p Probes) Readyz(w http.ResponseWriter, r *http.Request) {
	if !p.Live() {
		unavailable(w, []string{notRunning})
		return
	}
	if failed, _ := checkReady(r.Context(), p.Ready, nil, p.Logger); len(failed) > 0 {
		unavailable(w, failed)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// unavailable is the API's 503 error body.
func unavailable(w http.ResponseWriter, messages []string) {
	body := errorBody{
		StatusCode: http.StatusServiceUnavailable, Error: http.StatusText(http.StatusServiceUnavailable),
		Code: ticketing.CodeUnavailable, Message: messages, RequestID: ticketing.NewID(),
	}
	w.Header().Set(HeaderRequestID, body.RequestID)
	writeJSON(w, body.StatusCode, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
