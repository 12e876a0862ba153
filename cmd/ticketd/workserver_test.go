package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// eventually polls ok for as long as a busy machine may need, and fails
// with what ok last said when it never holds.
func eventually(t *testing.T, what string, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done, state := ok()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30s: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tcpProxy forwards connections to a server until cut, when it stops
// listening and closes every connection: the server becomes unreachable
// for the program using the proxy's address, and only for it.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	t.Cleanup(p.Cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, s) {
				return
			}
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// Cut makes the server unreachable through the proxy.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// testQueue is an asynq queue named after rdb's namespace, removed with its
// mail queue when the test ends.
func testQueue(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	queue := "test-" + strings.TrimSuffix(strings.TrimPrefix(rdb.Prefix, "test:"), ":")
	for _, q := range worker.Queues(queue) {
		redistest.CleanupAsynqQueue(t, rdb, q)
	}
	return queue
}

// workerFamilies are what a scrape of the worker must show from its start:
// the queue state, the task metrics, and the counters the worker moves.
func workerFamilies(queue string) []string {
	var want []string
	for _, q := range worker.Queues(queue) {
		for _, state := range telemetry.QueueStates {
			want = append(want, fmt.Sprintf(`ticketd_queue_tasks{queue=%q,state=%q} `, q, state))
		}
		for _, name := range []string{"ticketd_queue_latency_seconds", "ticketd_queue_processed_total", "ticketd_queue_failed_total", "ticketd_queue_paused", "ticketd_worker_tasks_in_flight"} {
			want = append(want, fmt.Sprintf(`%s{queue=%q} `, name, q))
		}
	}
	return append(want,
		"ticketd_queue_scrape_errors_total ",
		fmt.Sprintf(`ticketd_worker_task_duration_seconds_bucket{queue=%q,task="payment:verify",le="0.005"} `, queue),
		fmt.Sprintf(`ticketd_worker_tasks_total{outcome="error",queue=%q,task="payment:verify"} `, queue),
		fmt.Sprintf(`ticketd_worker_tasks_total{outcome="skipped",queue=%q,task="payment:refund"} `, queue),
		fmt.Sprintf(`ticketd_worker_tasks_total{outcome="error",queue=%q,task="mail:booking_confirmed"} `, worker.MailQueue(queue)),
		fmt.Sprintf(`ticketd_worker_task_retries_total{queue=%q,task="payment:verify"} `, queue),
		`ticketd_payments_total{outcome="confirmed"} 0`,
		`ticketd_refunds_finished_total{kind="automatic",status="failed"} 0`,
		`ticketd_build_info{`,
	)
}

// TestWorkServesMetricsAndProbes runs `ticketd work` on 127.0.0.1:0: its
// listener serves /healthz, /readyz and /metrics with the
// queue and task families, and counts the worker's tasks. When Redis becomes
// unreachable /readyz says so while /healthz still answers (the process and
// its asynq servers run), and /metrics still answers, counting the failed
// queue reads. The listener stops with the worker.
func TestWorkServesMetricsAndProbes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	queue := testQueue(t, rdb)
	redisURL, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, redisURL.Host)
	redisURL.Host = proxy.ln.Addr().String()

	cfg, err := config.Load(env(map[string]string{
		"DATABASE_URL": db.AppURL, "REDIS_URL": redisURL.String(), "REDIS_KEY_PREFIX": rdb.Prefix,
		"WORKER_QUEUE": queue, "TICKET_SIGNING_SECRET": testJWTSecret, "LOG_LEVEL": "error",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsAddr = "127.0.0.1:0" // any free port (config refuses port 0: Prometheus could not find it)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- work(ctx, cfg, io.Discard, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("work ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("work did not listen within 30s")
	}
	base := "http://" + addr

	eventually(t, "/healthz answers 200 once the worker runs", func() (bool, string) {
		status, body := get(t, base+"/healthz")
		return status == 200 && strings.Contains(body, `"status":"ok"`), fmt.Sprintf("%d %s", status, body)
	})
	if status, body := get(t, base+"/readyz"); status != 200 || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("/readyz: %d %s", status, body)
	}
	// The sweep the worker enqueues at its start is counted.
	sweptOK := fmt.Sprintf(`ticketd_worker_tasks_total{outcome="ok",queue=%q,task="bookings:sweep"} 1`, queue)
	eventually(t, "the families are scraped and the sweep counted", func() (bool, string) {
		status, body := get(t, base+"/metrics")
		if status != 200 {
			return false, fmt.Sprintf("%d %.300s", status, body)
		}
		for _, want := range append(workerFamilies(queue), sweptOK, "ticketd_queue_scrape_errors_total 0") {
			if !strings.Contains(body, want) {
				return false, "no " + want
			}
		}
		return true, ""
	})

	proxy.Cut()
	eventually(t, "/readyz answers 503 naming Redis", func() (bool, string) {
		status, body := get(t, base+"/readyz")
		return status == 503 && strings.Contains(body, "redis is not reachable") && !strings.Contains(body, "postgres"),
			fmt.Sprintf("%d %s", status, body)
	})
	if status, body := get(t, base+"/healthz"); status != 200 {
		t.Errorf("/healthz without Redis: %d %s, want 200: the worker still runs", status, body)
	}
	eventually(t, "/metrics counts the failed queue reads", func() (bool, string) {
		status, body := get(t, base+"/metrics")
		return status == 200 && !strings.Contains(body, "ticketd_queue_scrape_errors_total 0") &&
			strings.Contains(body, "ticketd_queue_scrape_errors_total "), fmt.Sprintf("%d", status)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("work: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("work did not stop within 30s of cancellation")
	}
	eventually(t, "the listener stops with the worker", func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, addr + " still accepts connections"
	})
}

// TestWorkMetricsAddrDefaultsTo9091: `ticketd work` without METRICS_ADDR
// listens on :9091 (it starts nothing here: Postgres is unreachable, after
// the configuration is logged).
func TestWorkMetricsAddrDefaultsTo9091(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	err := run(context.Background(), []string{"work"}, env(map[string]string{
		"DATABASE_URL": "postgres://nobody@" + freeAddr(t) + "/none?sslmode=disable", "REDIS_URL": redistest.URL(),
		"TICKET_SIGNING_SECRET": testJWTSecret,
	}), &log)
	if err == nil || !strings.Contains(err.Error(), "postgres") {
		t.Fatalf("work without Postgres: %v", err)
	}
	if !strings.Contains(log.String(), `"metricsAddr":":9091"`) {
		t.Fatalf("work's METRICS_ADDR is not :9091 by default:\n%s", log.String())
	}
}

// TestDevServesWorkerMetricsWithTheAPIs: serve and work in one process (as
// `ticketd dev` runs them) share one registry, so the worker's families are
// on the API's /metrics.
func TestDevServesWorkerMetricsWithTheAPIs(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	queue := testQueue(t, rdb)
	metricsAddr := freeAddr(t)
	cfg := serveConfig(t, pgtest.New(t), map[string]string{
		"METRICS_ADDR": metricsAddr, "WORKER_QUEUE": queue, "REDIS_KEY_PREFIX": rdb.Prefix,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := openApp(ctx, cfg, io.Discard, "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	done := make(chan error, 1)
	go func() { done <- a.serveAndWork(ctx) }()

	sweptOK := fmt.Sprintf(`ticketd_worker_tasks_total{outcome="ok",queue=%q,task="bookings:sweep"} 1`, queue)
	eventually(t, "the API's /metrics has the worker's families", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("serve and work ended early: %v", err)
		default:
		}
		c, err := net.Dial("tcp", metricsAddr)
		if err != nil {
			return false, "not listening yet"
		}
		c.Close()
		status, body := get(t, "http://"+metricsAddr+"/metrics")
		for _, want := range append(workerFamilies(queue), sweptOK, "http_requests_in_flight ") {
			if !strings.Contains(body, want) {
				return false, fmt.Sprintf("%d: no %s", status, want)
			}
		}
		return true, ""
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve and work: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve and work did not stop within 30s of cancellation")
	}
}
