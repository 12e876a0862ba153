// Package telemetry holds what ticketd tells its operators: the Prometheus
// metrics it exports, and its OpenTelemetry tracing (tracing.go, configured
// by the OTEL_* variables) with the log handler that puts trace ids on log
// lines (logging.go). Every
// metric is registered on one registry that /metrics serves (on the API, or
// on METRICS_ADDR when that is set; `ticketd work` always serves it on
// METRICS_ADDR): these, the asynq queues' state (queue.go) and the worker's
// task metrics (worker.NewMetrics). The dashboards in dashboards/ and the
// rules in deploy/prometheus use only these names.
package telemetry

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
)

// Metrics are the application's metric families.
type Metrics struct {
	Registry *prometheus.Registry

	// HTTPRequests counts finished requests by method, route pattern and status.
	HTTPRequests *prometheus.CounterVec
	// HTTPDuration observes request latency by method and route pattern.
	HTTPDuration *prometheus.HistogramVec
	// HTTPInFlight is the number of requests being served.
	HTTPInFlight prometheus.Gauge
	// TenantResolutions counts tenant resolutions by outcome: cache_hit,
	// lookup (found in Postgres) or not_found (unknown or suspended).
	TenantResolutions *prometheus.CounterVec
	// PaymentsInitialized counts payment attempts opened at Paystack.
	PaymentsInitialized prometheus.Counter
	// Payments counts payment attempts by how they ended: confirmed,
	// failed, abandoned, already_paid, amount_mismatch, late_sold_out,
	// booking_closed (each attempt once per outcome it reaches).
	Payments *prometheus.CounterVec
	// RefundsQueued counts refunds owed for charges that could not become
	// tickets.
	RefundsQueued prometheus.Counter
	// RefundRequests counts refund requests and retries by outcome:
	// accepted, replayed (an Idempotency-Key sent again), retried,
	// event_cancelled, buyer (a buyer's own cancellation), review (queued by
	// a decision about a booking under review), exceeds_paid, invalid_state,
	// refused (any other error).
	RefundRequests *prometheus.CounterVec
	// RefundsFinished counts refunds Paystack finished, by kind (automatic,
	// admin) and status (processed, failed).
	RefundsFinished *prometheus.CounterVec
	// Webhooks counts Paystack webhooks by result: accepted, duplicate,
	// bad_signature, forbidden_ip.
	Webhooks *prometheus.CounterVec
	// BookingCommitSize observes how many pending bookings each group commit
	// wrote, and BookingCommitDuration how long it took: one writer serves
	// an instance, so commits of many bookings that take long mean the
	// database is what holds buyers back.
	BookingCommitSize     prometheus.Histogram
	BookingCommitDuration prometheus.Histogram
	// WaitingRoomJoins counts visitors who joined a waiting room's queue
	// (a repeated join of the same buyer is not counted), and
	// WaitingRoomAdmissions those admitted; WaitingRoomWait observes how
	// long each admitted visitor waited from joining.
	WaitingRoomJoins      prometheus.Counter
	WaitingRoomAdmissions prometheus.Counter
	WaitingRoomWait       prometheus.Histogram
	// WaitingRoomQueueLength is how many visitors wait, summed over the
	// rooms this instance saw in the last minute (each instance sees the
	// same queues: take the max over instances, not the sum).
	WaitingRoomQueueLength prometheus.Gauge
	// CacheInvalidationsPublished counts the keys this instance told the
	// others to forget, by cache kind (tenant, sale, room, session);
	// CacheInvalidationsReceived those it heard from the others;
	// CacheInvalidationsDropped those lost, by reason (queue_full,
	// publish_failed, too_long, malformed, unknown_kind); and
	// CacheInvalidationResubscriptions the subscriptions confirmed, on each
	// of which every shared cache was cleared (one at start).
	CacheInvalidationsPublished      *prometheus.CounterVec
	CacheInvalidationsReceived       *prometheus.CounterVec
	CacheInvalidationsDropped        *prometheus.CounterVec
	CacheInvalidationResubscriptions prometheus.Counter

	roomsMu sync.Mutex
	rooms   map[string]roomLength
}

// roomLength is the last queue length seen of one room.
type roomLength struct {
	waiting int
	at      time.Time
}

// roomLengthFor is how long a room counts in WaitingRoomQueueLength after
// its queue was last seen.
const roomLengthFor = time.Minute

// New registers the metric families, the Go and process collectors and
// ticketd_build_info on a fresh registry.
func New(version string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
		HTTPInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		TenantResolutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ticketd_tenant_resolution_total",
			Help: "Tenant resolutions, by outcome (cache_hit, lookup, not_found).",
		}, []string{"outcome"}),
	}
	m.PaymentsInitialized = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketd_payments_initialized_total",
		Help: "Payment attempts opened at Paystack.",
	})
	m.Payments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_payments_total",
		Help: "Payment attempts by how they ended (confirmed, failed, abandoned, already_paid, amount_mismatch, late_sold_out, booking_closed).",
	}, []string{"outcome"})
	m.RefundsQueued = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketd_refunds_queued_total",
		Help: "Refunds owed for successful charges that could not become tickets.",
	})
	m.RefundRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_refunds_requested_total",
		Help: "Refund requests and retries, by outcome (accepted, replayed, retried, event_cancelled, buyer, review, exceeds_paid, invalid_state, refused).",
	}, []string{"outcome"})
	m.RefundsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_refunds_finished_total",
		Help: "Refunds Paystack finished, by kind (automatic, admin) and status (processed, failed).",
	}, []string{"kind", "status"})
	m.Webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_paystack_webhooks_total",
		Help: "Paystack webhooks received, by result (accepted, duplicate, bad_signature, forbidden_ip).",
	}, []string{"result"})
	m.BookingCommitSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ticketd_booking_commit_bookings",
		Help:    "Pending bookings written by each group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
	})
	m.BookingCommitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ticketd_booking_commit_duration_seconds",
		Help:    "Duration of each group commit of pending bookings.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ticketd_build_info",
		Help: "Always 1; labelled with the running version.",
	}, []string{"version", "goversion"})
	m.WaitingRoomJoins = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketd_waiting_room_joins_total",
		Help: "Visitors who joined a waiting room's queue.",
	})
	m.WaitingRoomAdmissions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketd_waiting_room_admissions_total",
		Help: "Visitors admitted from a waiting room's queue.",
	})
	m.WaitingRoomWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ticketd_waiting_room_wait_seconds",
		Help:    "Time from joining a waiting room to admission.",
		Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
	})
	m.WaitingRoomQueueLength = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ticketd_waiting_room_queue_length",
		Help: "Visitors waiting, summed over the waiting rooms this instance saw in the last minute.",
	})
	m.CacheInvalidationsPublished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_cache_invalidations_published_total",
		Help: "Cache keys this instance told the other instances to forget, by cache kind.",
	}, []string{"kind"})
	m.CacheInvalidationsReceived = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_cache_invalidations_received_total",
		Help: "Cache keys another instance told this one to forget, by cache kind.",
	}, []string{"kind"})
	m.CacheInvalidationsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketd_cache_invalidations_dropped_total",
		Help: "Cache invalidations not sent or not applied, by reason (queue_full, publish_failed, too_long, malformed, unknown_kind).",
	}, []string{"reason"})
	m.CacheInvalidationResubscriptions = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ticketd_cache_invalidation_subscriptions_total",
		Help: "Subscriptions to the cache invalidations confirmed (at start and after each reconnection), each clearing every shared cache.",
	})
	m.rooms = map[string]roomLength{}
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	m.Registry.MustRegister(
		m.HTTPRequests, m.HTTPDuration, m.HTTPInFlight, m.TenantResolutions, buildInfo,
		m.PaymentsInitialized, m.Payments, m.RefundsQueued, m.RefundRequests, m.RefundsFinished, m.Webhooks,
		m.BookingCommitSize, m.BookingCommitDuration,
		m.WaitingRoomJoins, m.WaitingRoomAdmissions, m.WaitingRoomWait, m.WaitingRoomQueueLength,
		m.CacheInvalidationsPublished, m.CacheInvalidationsReceived, m.CacheInvalidationsDropped, m.CacheInvalidationResubscriptions,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.startAtZero()
	return m
}

// startAtZero creates every known label value of the outcome counters at
// 0: each family is then in the first scrape, and increase() over an
// alert's window sees the first event as a step from 0 rather than as a new
// series with nothing before it.
func (m *Metrics) startAtZero() {
	zero := func(v *prometheus.CounterVec, values ...string) {
		for _, value := range values {
			v.WithLabelValues(value)
		}
	}
	zero(m.TenantResolutions, "cache_hit", "lookup", "not_found")
	zero(m.Payments, "confirmed", "failed", "abandoned", "already_paid", "amount_mismatch", "late_sold_out", "booking_closed")
	zero(m.RefundRequests, "accepted", "replayed", "retried", "event_cancelled", "buyer", "review", "exceeds_paid", "invalid_state", "refused")
	zero(m.Webhooks, "accepted", "duplicate", "bad_signature", "forbidden_ip")
	zero(m.CacheInvalidationsPublished, "tenant", "sale", "room", "session")
	zero(m.CacheInvalidationsReceived, "tenant", "sale", "room", "session")
	zero(m.CacheInvalidationsDropped, "queue_full", "publish_failed", "too_long", "malformed", "unknown_kind")
	for _, kind := range []string{"automatic", "admin"} {
		for _, status := range []string{"processed", "failed"} {
			m.RefundsFinished.WithLabelValues(kind, status)
		}
	}
}

// ObserveBookingCommit records one group commit of pending bookings.
func (m *Metrics) ObserveBookingCommit(bookings int, took time.Duration) {
	m.BookingCommitSize.Observe(float64(bookings))
	m.BookingCommitDuration.Observe(took.Seconds())
}

// RoomJoined counts a visitor who joined a waiting room (waitroom.Observer).
func (m *Metrics) RoomJoined() { m.WaitingRoomJoins.Inc() }

// RoomAdmitted counts admitted visitors and observes their waits
// (waitroom.Observer).
func (m *Metrics) RoomAdmitted(waits []time.Duration) {
	m.WaitingRoomAdmissions.Add(float64(len(waits)))
	for _, w := range waits {
		m.WaitingRoomWait.Observe(max(w, 0).Seconds())
	}
}

// RoomWaiting records the queue length of one room and sets
// WaitingRoomQueueLength to the sum over the rooms seen in the last minute
// (waitroom.Observer). The room is a map key, never a label.
func (m *Metrics) RoomWaiting(room string, waiting int) {
	now := time.Now()
	m.roomsMu.Lock()
	defer m.roomsMu.Unlock()
	m.rooms[room] = roomLength{waiting: waiting, at: now}
	sum := 0
	for k, r := range m.rooms {
		if now.Sub(r.at) > roomLengthFor {
			delete(m.rooms, k)
			continue
		}
		sum += r.waiting
	}
	m.WaitingRoomQueueLength.Set(float64(sum))
}

// InvalidationsPublished counts keys sent to the other instances
// (redis.InvalidationObserver).
func (m *Metrics) InvalidationsPublished(kind string, n int) {
	m.CacheInvalidationsPublished.WithLabelValues(kind).Add(float64(n))
}

// InvalidationReceived counts a key heard from another instance
// (redis.InvalidationObserver).
func (m *Metrics) InvalidationReceived(kind string) {
	m.CacheInvalidationsReceived.WithLabelValues(kind).Inc()
}

// InvalidationsDropped counts invalidations lost (redis.InvalidationObserver).
func (m *Metrics) InvalidationsDropped(reason string, n int) {
	m.CacheInvalidationsDropped.WithLabelValues(reason).Add(float64(n))
}

// InvalidationsResubscribed counts a subscription confirmed
// (redis.InvalidationObserver).
func (m *Metrics) InvalidationsResubscribed() { m.CacheInvalidationResubscriptions.Inc() }

// Handler serves the registry in the Prometheus exposition format, or in
// OpenMetrics (which carries the exemplars) to a scraper that asks for it:
// the /metrics of the API or of the internal listener (METRICS_ADDR).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// RegisterPool exports the connection pool's statistics.
func (m *Metrics) RegisterPool(pool *pgxpool.Pool) {
	m.Registry.MustRegister(poolCollector{pool: pool})
}

// RegisterReadReplica exports the state of the read replica
// (DATABASE_READ_URL), read at scrape time: up reports whether the public
// browsing reads it, fallbacks counts the reads the primary served because
// it could not (postgres.DB.ReadReplicaUp and ReadFallbacks).
func (m *Metrics) RegisterReadReplica(up func() bool, fallbacks func() uint64) {
	m.Registry.MustRegister(readReplicaCollector{up: up, fallbacks: fallbacks})
}

var (
	readReplicaUp = prometheus.NewDesc("ticketd_db_read_replica_up",
		"1 while the public browsing reads the read replica (DATABASE_READ_URL), 0 while it reads the primary because the replica did not answer.", nil, nil)
	readFallbacks = prometheus.NewDesc("ticketd_db_read_fallbacks_total",
		"Reads of the public browsing that the primary served because the read replica did not answer.", nil, nil)
)

type readReplicaCollector struct {
	up        func() bool
	fallbacks func() uint64
}

func (c readReplicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- readReplicaUp
	ch <- readFallbacks
}

func (c readReplicaCollector) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if c.up() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(readReplicaUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(readFallbacks, prometheus.CounterValue, float64(c.fallbacks()))
}

// RegisterTenantCache exports the sizes of the API's tenant cache, read at
// scrape time from size: organizers found, and hosts or slugs that named
// none. A second cache on the same registry (tests) is not exported.
func (m *Metrics) RegisterTenantCache(size func() (found, misses int)) {
	_ = m.Registry.Register(tenantCacheCollector(size))
}

var tenantCacheEntries = prometheus.NewDesc("ticketd_tenant_cache_entries",
	"Entries of the API's tenant cache, by kind: found (an organizer) or missing (a host or slug that names none).", []string{"kind"}, nil)

type tenantCacheCollector func() (found, misses int)

func (c tenantCacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tenantCacheEntries }

func (c tenantCacheCollector) Collect(ch chan<- prometheus.Metric) {
	found, misses := c()
	ch <- prometheus.MustNewConstMetric(tenantCacheEntries, prometheus.GaugeValue, float64(found), "found")
	ch <- prometheus.MustNewConstMetric(tenantCacheEntries, prometheus.GaugeValue, float64(misses), "missing")
}

var (
	poolAcquired = prometheus.NewDesc("ticketd_db_pool_acquired_connections", "Postgres connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("ticketd_db_pool_idle_connections", "Idle Postgres connections.", nil, nil)
	poolMax      = prometheus.NewDesc("ticketd_db_pool_max_connections", "Maximum Postgres connections of the pool.", nil, nil)
	poolWait     = prometheus.NewDesc("ticketd_db_pool_acquire_wait_seconds_total", "Time spent waiting for a Postgres connection.", nil, nil)
)

// poolCollector reads pgxpool statistics at scrape time.
type poolCollector struct{ pool *pgxpool.Pool }

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolAcquired
	ch <- poolIdle
	ch <- poolMax
	ch <- poolWait
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

// ObserveInTrace observes v on o with the trace id of ctx's sampled span as
// its exemplar, so that a latency panel links its slow buckets to traces
// (Grafana's exemplars, Prometheus with exemplar storage); without a
// sampled span it is a plain observation.
func ObserveInTrace(ctx context.Context, o prometheus.Observer, v float64) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}
