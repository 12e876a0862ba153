package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/postgres"
)

// migrate runs `ticketd migrate up|down|status` as the owner role of
// MIGRATIONS_DATABASE_URL.
func migrate(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: ticketd migrate up|down|status")
	}
	m, err := postgres.NewMigrator(ctx, cfg.MigrationsDatabaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		applied, err := m.Up(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "migrations: up to date")
		}
		for _, name := range applied {
			fmt.Fprintln(stdout, "migrations: applied", name)
		}
	case "down":
		name, err := m.Down(ctx)
		if err != nil {
			return err
		}
		if name == "" {
			fmt.Fprintln(stdout, "migrations: nothing to roll back")
		} else {
			fmt.Fprintln(stdout, "migrations: rolled back", name)
		}
	case "status":
		states, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED AT")
		for _, s := range states {
			at := "pending"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.Name, at)
		}
		return tw.Flush()
	default:
		return fmt.Errorf("usage: ticketd migrate up|down|status (got %q)", args[0])
	}
	return nil
}
