package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/redistest"
)

// freeAddr returns a loopback address that nothing listens on a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveConfig is a configuration serve accepts, on a free loopback port,
// with vars on top.
func serveConfig(t *testing.T, db *pgtest.DB, vars map[string]string) config.Config {
	t.Helper()
	m := map[string]string{
		"DATABASE_URL": db.AppURL, "REDIS_URL": redistest.URL(), "PLATFORM_API_KEY": "test-platform-key-0123456789",
		"JWT_SECRET": testJWTSecret, "TICKET_SIGNING_SECRET": testJWTSecret, "WAITING_ROOM_SECRET": testJWTSecret, "BIND_ADDR": "127.0.0.1", "LOG_LEVEL": "error",
		"DRAIN_DELAY": "0s",
	}
	for k, v := range vars {
		m[k] = v
	}
	cfg, err := config.Load(env(m))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = 0
	return cfg
}

// get returns the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, string(body)
}

// startServe runs serve with cfg until the test ends, when an error of
// serve fails it, and returns the API's address.
func startServe(t *testing.T, cfg config.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, listening) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-listening:
		return addr
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("serve ended early: %v", err)
		return ""
	}
}

// TestMetricsAddrTakesMetricsOffTheAPI: with METRICS_ADDR, /metrics is
// served there and the API answers it as an unknown route, so an ingress in
// front of the API cannot expose it; the listener stops with serve.
func TestMetricsAddrTakesMetricsOffTheAPI(t *testing.T) {
	t.Parallel()
	metricsAddr := freeAddr(t)
	cfg := serveConfig(t, pgtest.New(t), map[string]string{"METRICS_ADDR": metricsAddr})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("serve ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s")
	}

	status, body := get(t, "http://"+addr+"/metrics")
	var answer struct{ Code string }
	if err := json.Unmarshal([]byte(body), &answer); status != 404 || err != nil || answer.Code != "NOT_FOUND" {
		t.Fatalf("the API's /metrics: %d %.200s, want the JSON 404 of an unknown route", status, body)
	}
	status, body = get(t, "http://"+metricsAddr+"/metrics")
	if status != 200 || !strings.Contains(body, "ticketd_build_info{") {
		t.Fatalf("METRICS_ADDR's /metrics: %d %.200s", status, body)
	}
	// The API's requests are counted on the registry the listener serves.
	if !strings.Contains(body, `http_requests_total{method="GET",route="unmatched",status="404"} 1`) {
		t.Errorf("METRICS_ADDR's /metrics does not count the API's requests:\n%s", body)
	}
	if status, _ := get(t, "http://"+metricsAddr+"/healthz"); status != 404 {
		t.Errorf("METRICS_ADDR serves /healthz: %d", status)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancellation")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", metricsAddr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("METRICS_ADDR still accepts connections 10s after serve returned")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsOnTheAPIWithoutMetricsAddr: without METRICS_ADDR the API serves
// /metrics, as it always did.
func TestMetricsOnTheAPIWithoutMetricsAddr(t *testing.T) {
	t.Parallel()
	addr := startServe(t, serveConfig(t, pgtest.New(t), nil))
	if status, body := get(t, "http://"+addr+"/metrics"); status != 200 || !strings.Contains(body, "ticketd_build_info{") {
		t.Fatalf("the API's /metrics: %d %.200s", status, body)
	}
}

// TestInternalListenFailureStopsServe: a METRICS_ADDR or PPROF_ADDR that
// cannot be listened on is serve's error, not a line in the log of a server
// that runs without it.
func TestInternalListenFailureStopsServe(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	db := pgtest.New(t)
	for _, name := range []string{"METRICS_ADDR", "PPROF_ADDR"} {
		t.Run(name, func(t *testing.T) {
			cfg := serveConfig(t, db, map[string]string{name: taken.Addr().String()})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := serve(ctx, cfg, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), "listen") {
				t.Fatalf("serve with %s on a taken port: %v, want a listen error", name, err)
			}
		})
	}
}
