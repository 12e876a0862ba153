package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// errInventoryDrift makes `inventory check` exit non-zero.
var errInventoryDrift = errors.New("inventory: Redis and Postgres disagree (see above); `ticketd inventory rebuild` rebuilds Redis from Postgres")

// inventoryCommand runs `ticketd inventory check|rebuild --event ID`.
func inventoryCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stdout)
	eventID := fs.String("event", "", "event id")
	slug := fs.String("tenant", "", "tenant slug (found from the event when omitted)")
	if len(args) == 0 || (args[0] != "check" && args[0] != "rebuild") {
		return errors.New("usage: ticketd inventory check|rebuild --event ID [--tenant SLUG]")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if !ticketing.ValidID(*eventID) {
		return errors.New("inventory: --event must be an event id")
	}
	a, err := openApp(ctx, cfg, io.Discard, "inventory")
	if err != nil {
		return err
	}
	defer a.close()
	tenant, err := a.eventTenant(ctx, *eventID, *slug)
	if err != nil {
		return err
	}
	ev := inventory.Event{TenantID: tenant.ID, EventID: *eventID}
	if args[0] == "rebuild" {
		if err := a.stock.Rebuild(ctx, ev); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "inventory: rebuilt event %s of %s from Postgres\n", *eventID, tenant.Slug)
	}
	return a.checkInventory(ctx, ev, stdout)
}

// checkBuyers compares the per-buyer counts in Redis (tickets held and
// bought, live holds) with what Postgres says they are, and returns the
// differences and the number of buyers Redis counts.
func (a *app) checkBuyers(ctx context.Context, ev inventory.Event, truth *inventory.Snapshot) ([]string, int, error) {
	got, err := a.stock.Buyers(ctx, ev)
	if err != nil {
		return nil, 0, err
	}
	want := inventory.BuyerCounts(truth, time.Now())
	var problems []string
	for field, n := range want {
		if got[field] != n {
			problems = append(problems, fmt.Sprintf("buyers %s: Postgres %d, Redis %d", field, n, got[field]))
		}
	}
	buyers := 0
	for field, n := range got {
		if strings.HasPrefix(field, "t:") {
			buyers++
		}
		if _, ok := want[field]; !ok {
			problems = append(problems, fmt.Sprintf("buyers %s: Postgres 0, Redis %d", field, n))
		}
	}
	return problems, buyers, nil
}

// eventTenant finds the tenant of an event: the named one, or the one whose
// rows hold the event (row-level security hides it from every other).
func (a *app) eventTenant(ctx context.Context, eventID, slug string) (*ticketing.Tenant, error) {
	events := postgres.NewEventService(a.db)
	if slug != "" {
		t, err := a.tenants.ResolveTenant(ctx, "", slug)
		if err != nil {
			return nil, fmt.Errorf("inventory: tenant %q: %w", slug, err)
		}
		_, err = events.FindEventByID(ticketing.WithTenant(ctx, t), eventID, true)
		return t, err
	}
	page := ticketing.Page{Limit: ticketing.MaxPageSize}
	for {
		tenants, next, err := a.tenants.FindTenants(ctx, ticketing.TenantFilter{Page: page})
		if err != nil {
			return nil, err
		}
		for _, t := range tenants {
			if _, err := events.FindEventByID(ticketing.WithTenant(ctx, t), eventID, true); err == nil {
				return t, nil
			}
		}
		if next == "" {
			return nil, fmt.Errorf("inventory: no tenant has event %s", eventID)
		}
		page.Cursor = next
	}
}

// checkInventory compares Redis with Postgres for every ticket type of the
// event and checks Redis's own books (available + held + sold = capacity).
func (a *app) checkInventory(ctx context.Context, ev inventory.Event, stdout io.Writer) error {
	truth, err := postgres.NewBookingStore(a.db).LoadInventory(ctx, ev)
	if err != nil {
		return err
	}
	stock, err := a.stock.Availability(ctx, ev)
	if err != nil {
		return err
	}
	problems, err := a.stock.Verify(ctx, ev)
	if err != nil {
		return err
	}
	held := map[string]int{}
	seatType := map[string]string{}
	for _, s := range truth.Seats {
		seatType[s.ID] = s.TicketTypeID
	}
	soldSeats := map[string]int{}
	for _, s := range truth.Seats {
		if s.Sold {
			soldSeats[s.TicketTypeID]++
		}
	}
	for _, h := range truth.Holds {
		for _, it := range h.Items {
			held[it.TicketTypeID] += it.Quantity
		}
		for _, seat := range h.Seats {
			held[seatType[seat]]++
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TICKET TYPE\tCAPACITY\tSOLD (PG/REDIS)\tHELD (PG/REDIS)\tAVAILABLE\tOK")
	for _, t := range truth.TicketTypes {
		sold := t.Sold
		if t.Seated {
			sold = soldSeats[t.ID]
		}
		r := stock[t.ID]
		ok := r.Capacity == t.Capacity && r.Sold == sold && r.Held == held[t.ID] && r.Available+r.Held+r.Sold == r.Capacity
		if !ok {
			problems = append(problems, fmt.Sprintf("ticket type %s: Postgres capacity %d sold %d held %d; Redis capacity %d sold %d held %d available %d",
				t.ID, t.Capacity, sold, held[t.ID], r.Capacity, r.Sold, r.Held, r.Available))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d/%d\t%d\t%v\n", t.ID, t.Capacity, sold, r.Sold, held[t.ID], r.Held, r.Available, ok)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	buyerProblems, buyers, err := a.checkBuyers(ctx, ev, truth)
	if err != nil {
		return err
	}
	problems = append(problems, buyerProblems...)
	fmt.Fprintf(stdout, "buyers: %d counted in Redis, %d disagree with Postgres\n", buyers, len(buyerProblems))
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "inventory: consistent")
		return nil
	}
	slices.Sort(problems)
	for _, p := range slices.Compact(problems) {
		fmt.Fprintln(stdout, "  -", p)
	}
	return errInventoryDrift
}
