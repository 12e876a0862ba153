package main

import (
	"context"
	"net/http"

	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/worker"
)

// DefaultWorkMetricsAddr is where `ticketd work` serves /metrics, /healthz
// and /readyz when METRICS_ADDR is not set: the worker has no other port,
// and one beside the API's usual 9090 lets both run on one host.
const DefaultWorkMetricsAddr = ":9091"

// observedWorkerConfig is the worker's configuration with its task metrics
// and the state of its queues registered on a.metrics, the one registry of
// the process (`ticketd dev` serves it with the API's). status, when not
// nil, follows whether the worker runs.
func (a *app) observedWorkerConfig(status *worker.Status) worker.Config {
	cfg := a.workerConfig()
	cfg.Middleware = append(cfg.Middleware, worker.NewMetrics(a.metrics.Registry, cfg.Queue).Middleware)
	a.metrics.RegisterQueues(a.tasks.Inspector(), a.logger, worker.Queues(cfg.Queue)...)
	cfg.Status = status
	return cfg
}

// workServed runs the worker until ctx is done, with /metrics, /healthz and
// /readyz on the internal listener at METRICS_ADDR (and the profiler on
// PPROF_ADDR). When listening is not nil it receives the listener's bound
// address once it accepts connections.
func (a *app) workServed(ctx context.Context, listening chan<- string) error {
	status := &worker.Status{}
	cfg := a.observedWorkerConfig(status)
	probes := httpapi.Probes{
		Version: version,
		Live:    status.Running,
		Ready: map[string]func(context.Context) error{
			"postgres": a.db.Ping,
			"redis":    a.rdb.Ready,
		},
		Logger: a.logger,
	}
	// The listeners stop once the worker has stopped, so that its drain
	// can be watched.
	internal, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	addr, err := serveInternal(internal, "metrics", a.cfg.MetricsAddr, workMux(a.metrics, probes), a.logger)
	if err != nil {
		return err
	}
	if a.cfg.PprofAddr != "" {
		if _, err := serveInternal(internal, "pprof", a.cfg.PprofAddr, pprofMux(), a.logger); err != nil {
			return err
		}
	}
	if listening != nil {
		listening <- addr
	}
	return worker.Run(ctx, a.rdb.UniversalClient, cfg, a.workerHandlers(), a.tasks)
}

// workMux serves the worker's internal endpoints: GET /metrics for
// Prometheus, and /healthz and /readyz for the orchestrator's probes.
func workMux(m *telemetry.Metrics, p httpapi.Probes) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", p.Healthz)
	mux.HandleFunc("GET /readyz", p.Readyz)
	return mux
}
