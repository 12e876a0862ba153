// Command ticketd is the ticketing platform: the HTTP API, the migrations
// and a one-process developer mode. See `ticketd help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // venue time zones must resolve in minimal images without a zone database

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/httpapi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: ticketd <command>

commands:
  serve                 serve the HTTP API (connects as the application role)
  work                  run the background worker (booking expiry, sweeps, payments, refunds)
  inventory check|rebuild --event ID [--tenant SLUG]
                        compare an event's Redis inventory with Postgres, or rebuild it
  migrate up|down|status  apply, roll back one, or list migrations (as the owner role)
  seed                  create the demo organizer with venues and events on sale
  dev                   migrate, seed an empty database, then serve and work, with development defaults
                        and a Paystack simulator
  paystack-sim          run the Paystack simulator alone (PAYSTACK_SIM_PORT, default 8081)
  postman               print the Postman collection of the API (make postman writes
                        docs/postman/ticketd.postman_collection.json)
  version               print the version

Configuration comes from environment variables; see README.md.`

func main() {
	tuneGC(os.Getenv, os.ReadFile)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal begins the graceful shutdown. Stopping the
	// notification then gives a second one its default action, which ends
	// the process at once: an operator's second Ctrl-C does not wait out
	// the drain.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ticketd:", err)
		os.Exit(1)
	}
}

// errUsage is returned for a missing or unknown command.
var errUsage = errors.New(usage)

// run is the whole program, with the process's arguments, environment and
// output passed in so that tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "postman":
		collection, err := httpapi.PostmanCollection()
		if err != nil {
			return err
		}
		_, err = stdout.Write(collection)
		return err
	case "dev":
		getenv = loopbackByDefault(devEnv(getenv))
	case "paystack-sim":
		getenv = loopbackByDefault(getenv)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, nil)
	case "migrate":
		return migrate(ctx, cfg, rest, stdout)
	case "seed":
		return seed(ctx, cfg, stdout, false)
	case "work":
		return work(ctx, cfg, stdout, nil)
	case "inventory":
		return inventoryCommand(ctx, cfg, rest, stdout)
	case "paystack-sim":
		return paystackSim(ctx, cfg, getenv, stdout)
	case "dev":
		return dev(ctx, cfg, getenv, stdout)
	}
	return fmt.Errorf("unknown command %q\n%w", cmd, errUsage)
}
