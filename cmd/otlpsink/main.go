// Command otlpsink is an OTLP/HTTP trace receiver that counts what it is
// sent and keeps nothing: the collector of the tracing benchmark
// (docs/benchmarks.md), so that exporting costs ticketd what it would
// against a real collector on the same machine, and the collector itself
// almost nothing.
//
//	otlpsink [-addr 127.0.0.1:4318]
//
// It prints the spans and export requests it received when it stops
// (SIGINT, SIGTERM).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ticketd-io/ticketd/internal/telemetry/otlpsink"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4318", "address to listen on (loopback)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "otlpsink:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	sink := otlpsink.New(false)
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("otlpsink: listening on http://%s/v1/traces\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	spans, requests := sink.Count()
	fmt.Printf("otlpsink: received %d spans in %d export requests\n", spans, requests)
	return nil
}
