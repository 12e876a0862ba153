package telemetry_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestQueueCollectorReportsTheQueues enqueues pending, scheduled and
// archived tasks on a queue of the test's own, pauses it and gives asynq's
// totals values, and reads them all back from a scrape; a queue nothing was
// ever enqueued on is reported empty.
func TestQueueCollectorReportsTheQueues(t *testing.T) {
	t.Parallel()
	rdb := redistest.New(t)
	ns := strings.TrimSuffix(strings.TrimPrefix(rdb.Prefix, "test:"), ":")
	queue, empty := "test-"+ns, "test-"+ns+"-empty"
	redistest.CleanupAsynqQueue(t, rdb, queue)
	redistest.CleanupAsynqQueue(t, rdb, empty)

	client := asynq.NewClientFromRedisClient(rdb.UniversalClient)
	inspector := asynq.NewInspectorFromRedisClient(rdb.UniversalClient)
	enqueue := func(id string, opts ...asynq.Option) {
		t.Helper()
		opts = append(opts, asynq.Queue(queue), asynq.TaskID(id))
		if _, err := client.EnqueueContext(t.Context(), asynq.NewTask("test:task", nil), opts...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		enqueue(fmt.Sprintf("pending-%d", i))
	}
	for i := range 2 {
		enqueue(fmt.Sprintf("scheduled-%d", i), asynq.ProcessIn(time.Hour))
	}
	enqueue("archived")
	if err := inspector.ArchiveTask(queue, "archived"); err != nil {
		t.Fatal(err)
	}
	if err := inspector.PauseQueue(queue); err != nil {
		t.Fatal(err)
	}
	// asynq's own totals, kept in these keys by every worker of the queue.
	if err := rdb.Set(t.Context(), "asynq:{"+queue+"}:processed", 42, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(t.Context(), "asynq:{"+queue+"}:failed", 5, 0).Err(); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(telemetry.NewQueueCollector(inspector, []string{queue, empty}, 10*time.Second, discard))
	got := telemetrytest.Scrape(t, reg)
	for state, want := range map[string]float64{"pending": 3, "active": 0, "scheduled": 2, "retry": 0, "archived": 1, "completed": 0, "aggregating": 0} {
		for q, want := range map[string]float64{queue: want, empty: 0} {
			key := fmt.Sprintf(`ticketd_queue_tasks{queue=%q,state=%q}`, q, state)
			if v, ok := got[key]; !ok || v != want {
				t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
			}
		}
	}
	for key, want := range map[string]float64{
		`ticketd_queue_processed_total{queue="` + queue + `"}`: 42,
		`ticketd_queue_failed_total{queue="` + queue + `"}`:    5,
		`ticketd_queue_paused{queue="` + queue + `"}`:          1,
		`ticketd_queue_processed_total{queue="` + empty + `"}`: 0,
		`ticketd_queue_failed_total{queue="` + empty + `"}`:    0,
		`ticketd_queue_paused{queue="` + empty + `"}`:          0,
		`ticketd_queue_latency_seconds{queue="` + empty + `"}`: 0,
		`ticketd_queue_scrape_errors_total`:                    0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	// The oldest pending task waits since it was enqueued, moments ago.
	if v := got[`ticketd_queue_latency_seconds{queue="`+queue+`"}`]; v <= 0 || v > time.Hour.Seconds() {
		t.Errorf("latency of the queue with pending tasks: %v s", v)
	}
}

// TestQueueCollectorCountsRedisFailures: a Redis that refuses connections
// costs the scrape its queue metrics, not the scrape, and is counted.
func TestQueueCollectorCountsRedisFailures(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	down := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer down.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(telemetry.NewQueueCollector(asynq.NewInspectorFromRedisClient(down), []string{"ticketd"}, 10*time.Second, discard))
	for scrapes := 1; scrapes <= 2; scrapes++ {
		got := telemetrytest.Scrape(t, reg)
		if v := got["ticketd_queue_scrape_errors_total"]; v != float64(scrapes) {
			t.Errorf("after %d scrapes: ticketd_queue_scrape_errors_total %v", scrapes, v)
		}
		for key := range got {
			if strings.HasPrefix(key, "ticketd_queue_tasks") || strings.HasPrefix(key, "ticketd_queue_latency") {
				t.Errorf("a failed read reported %s", key)
			}
		}
	}
}

// hungInspector answers nothing until release is closed, counting calls.
type hungInspector struct {
	release chan struct{}
	calls   atomic.Int32
}

func (h *hungInspector) Queues() ([]string, error) {
	h.calls.Add(1)
	<-h.release
	return nil, errors.New("released")
}

func (h *hungInspector) GetQueueInfo(string) (*asynq.QueueInfo, error) {
	return nil, errors.New("not reached")
}

// TestQueueCollectorGivesUpOnAHungRedis: a scrape waits for Redis only for
// its timeout, and the scrapes that come while one read hangs share it
// rather than each starting another.
func TestQueueCollectorGivesUpOnAHungRedis(t *testing.T) {
	t.Parallel()
	hung := &hungInspector{release: make(chan struct{})}
	defer close(hung.release)
	reg := prometheus.NewRegistry()
	reg.MustRegister(telemetry.NewQueueCollector(hung, []string{"ticketd"}, 50*time.Millisecond, discard))
	for scrapes := 1; scrapes <= 3; scrapes++ {
		if got := telemetrytest.Scrape(t, reg); got["ticketd_queue_scrape_errors_total"] != float64(scrapes) {
			t.Fatalf("after %d scrapes of a hung Redis: %v", scrapes, got)
		}
	}
	if n := hung.calls.Load(); n != 1 {
		t.Fatalf("%d reads of Redis started, want the one that hangs", n)
	}
}
