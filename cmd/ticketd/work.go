package main

import (
	"cmp"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/ticketd-io/ticketd/internal/config"
)

// work runs the background worker until ctx is cancelled, with /metrics,
// /healthz and /readyz on METRICS_ADDR (DefaultWorkMetricsAddr when unset).
// When listening is not nil it receives that listener's bound address.
func work(ctx context.Context, cfg config.Config, stdout io.Writer, listening chan<- string) error {
	if cfg.TicketSigningSecret == "" {
		return errors.New("config: TICKET_SIGNING_SECRET is required: the worker mails tickets with their QR codes")
	}
	cfg.MetricsAddr = cmp.Or(cfg.MetricsAddr, DefaultWorkMetricsAddr)
	a, err := openApp(ctx, cfg, stdout, "work")
	if err != nil {
		return err
	}
	defer a.close()
	return a.workServed(ctx, listening)
}

// serveAndWork runs the API and the worker in one process, as `ticketd dev`
// does; when either stops, so does the other.
func (a *app) serveAndWork(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		errs = make([]error, 2)
	)
	for i, run := range []func(context.Context) error{
		func(ctx context.Context) error { return a.serve(ctx, nil) },
		a.work,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			errs[i] = run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
