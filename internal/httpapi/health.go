package httpapi

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// ShuttingDown is the message of /readyz's 503 once the process has begun
// to shut down.
const ShuttingDown = "shutting down"

// readyTimeout bounds each readiness check, so a hung dependency fails the
// probe instead of hanging it.
const readyTimeout = 2 * time.Second

// healthz answers while the process runs; it touches no dependency.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok", "version": s.cfg.Version})
}

// readyz checks every dependency in parallel. On failure it names the
// dependencies that failed, not why: the details are in the log. A
// dependency the API serves without (Deps.Optional) does not fail it: its
// failure is named under "degraded" in the 200. Once the server drains it
// fails without checking anything.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		return &ticketing.Error{Kind: ticketing.KindUnavailable, Code: ticketing.CodeUnavailable, Messages: []string{ShuttingDown}}
	}
	failed, degraded := checkReady(c.UserContext(), s.deps.Ready, s.deps.Optional, s.deps.Logger)
	if len(failed) > 0 {
		return &ticketing.Error{Kind: ticketing.KindUnavailable, Code: ticketing.CodeUnavailable, Messages: failed}
	}
	if len(degraded) > 0 {
		return c.JSON(fiber.Map{"status": "ok", "degraded": degraded})
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// checkReady runs the checks, required and optional, in parallel, each
// within readyTimeout, logs the failures and returns what failed ("postgres
// is not reachable") of each, sorted; none when all passed.
func checkReady(ctx context.Context, required, optional map[string]func(context.Context) error, logger *slog.Logger) (failed, degraded []string) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	run := func(checks map[string]func(context.Context) error, into *[]string, msg string) {
		for name, check := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := check(ctx); err != nil {
					logger.WarnContext(ctx, msg, "check", name, "error", err.Error())
					mu.Lock()
					*into = append(*into, name+" is not reachable")
					mu.Unlock()
				}
			}()
		}
	}
	run(required, &failed, "readiness check failed")
	run(optional, &degraded, "readiness check failed; ready without it")
	wg.Wait()
	slices.Sort(failed)
	slices.Sort(degraded)
	return failed, degraded
}

// metrics serves the Prometheus registry.
func (s *Server) metrics() fiber.Handler {
	return adaptor.HTTPHandler(s.deps.Metrics.Handler())
}

// tenantHealth answers through the tenant's own host: it shows that the
// tenant resolves and is active.
func (s *Server) tenantHealth(c *fiber.Ctx) error {
	t := ticketing.TenantFromContext(c.UserContext())
	return c.JSON(fiber.Map{
		"status": "ok",
		"tenant": fiber.Map{"id": t.ID, "slug": t.Slug, "name": t.Name, "currency": t.Currency},
	})
}
