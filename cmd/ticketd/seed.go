package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ticketd-io/ticketd/internal/auth"
	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/postgres"
	"github.com/ticketd-io/ticketd/internal/redis"
	"github.com/ticketd-io/ticketd/internal/telemetry"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// The demo organizer's sign-in, printed by `ticketd seed` and `make run`.
const (
	demoSlug          = "demo"
	demoAdminEmail    = "admin@demo.test"
	demoAdminPassword = "demo-admin-pass"
	demoDoorEmail     = "door@demo.test"
	demoDoorPassword  = "demo-door-pass"
	demoBuyerEmail    = "buyer@demo.test"
	demoBuyerPassword = "demo-buyer-pass"
)

// seed creates the demo organizer unless it exists: an admin, a seated hall
// of 300 seats in three sections, an open-air ground, and one seated and one
// general admission event, both published and on sale. With onlyIfEmpty it
// does nothing when any organizer exists.
func seed(ctx context.Context, cfg config.Config, stdout io.Writer, onlyIfEmpty bool) error {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 4, poolOptions(cfg)...)
	if err != nil {
		return err
	}
	defer db.Close()
	tenants := postgres.NewTenantService(db, auth.DefaultHasher())
	if onlyIfEmpty {
		existing, _, err := tenants.FindTenants(ctx, ticketing.TenantFilter{Page: ticketing.Page{Limit: 1}})
		if err != nil || len(existing) > 0 {
			return err
		}
	}
	tenant, admin, err := tenants.CreateTenant(ctx, ticketing.NewTenant{
		Slug: demoSlug, Name: "Demo Events", Currency: "NGN",
		Admin: ticketing.NewUser{Email: demoAdminEmail, Password: demoAdminPassword, Name: "Demo Admin"},
	})
	if e := ticketing.AsError(err); e != nil && e.Code == ticketing.CodeSlugTaken {
		fmt.Fprintf(stdout, "seed: the %q organizer exists already; nothing to do\n", demoSlug)
		return nil
	}
	if err != nil {
		return err
	}
	ctx = ticketing.WithActor(ticketing.WithTenant(ctx, tenant), ticketing.Actor{UserID: admin.ID, Role: string(admin.Role)})
	if err := seedCatalog(ctx, postgres.NewVenueService(db), postgres.NewEventService(db)); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := seedStaff(ctx, postgres.NewUserService(db, auth.DefaultHasher())); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	announceTenant(ctx, cfg, tenant.ID, stdout)
	fmt.Fprintf(stdout, "seed: created the %q organizer; sign in at http://%s.%s:%d as %s / %s\n",
		demoSlug, demoSlug, cfg.PlatformDomain, cfg.Port, demoAdminEmail, demoAdminPassword)
	return nil
}

// announceTenant tells the running API instances, if any, that a tenant
// was created: one that was asked for its host before keeps answering 404
// for TENANT_CACHE_TTL otherwise. Without Redis the seed still succeeds.
func announceTenant(ctx context.Context, cfg config.Config, tenantID string, stdout io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	rdb, err := redis.Open(ctx, cfg.RedisURL, cfg.RedisKeyPrefix)
	if err == nil {
		defer func() { _ = rdb.Close() }()
		bus := rdb.Invalidations(slog.New(slog.DiscardHandler), telemetry.New(version))
		err = bus.Send(ctx, httpapi.TenantCacheKind, tenantID)
	}
	if err != nil {
		fmt.Fprintf(stdout, "seed: running API instances may take TENANT_CACHE_TTL to serve the new organizer (%v)\n", err)
	}
}

// seedStaff adds the demo organizer's door staff (CHECKIN) and a buyer.
func seedStaff(ctx context.Context, users ticketing.UserService) error {
	door, err := users.CreateUser(ctx, ticketing.NewUser{Email: demoDoorEmail, Password: demoDoorPassword, Name: "Demo Door"})
	if err != nil {
		return err
	}
	role := ticketing.RoleCheckin
	if _, _, err := users.UpdateUser(ctx, door.ID, ticketing.UserUpdate{Role: &role, Version: door.Version}); err != nil {
		return err
	}
	_, err = users.CreateUser(ctx, ticketing.NewUser{Email: demoBuyerEmail, Password: demoBuyerPassword, Name: "Demo Buyer"})
	return err
}

func seedCatalog(ctx context.Context, venues ticketing.VenueService, events ticketing.EventService) error {
	rows := func(labels string, seats int) []ticketing.RowInput {
		var out []ticketing.RowInput
		for _, l := range labels {
			out = append(out, ticketing.RowInput{Label: string(l), Count: seats})
		}
		return out
	}
	hall, err := venues.CreateVenue(ctx, ticketing.NewVenue{
		Name: "Main Hall", Address: "1 Marina", City: "Lagos", Timezone: "Africa/Lagos",
		Layout: &ticketing.LayoutInput{Sections: []ticketing.SectionInput{
			{Name: "Orchestra", Rows: rows("ABCDEFGH", 20)},
			{Name: "Mezzanine", Rows: rows("ABCDE", 16)},
			{Name: "Balcony", Rows: rows("ABCD", 15)},
		}},
	})
	if err != nil {
		return err
	}
	grounds, err := venues.CreateVenue(ctx, ticketing.NewVenue{
		Name: "Open Grounds", Address: "Tafawa Balewa Square", City: "Lagos", Timezone: "Africa/Lagos", Capacity: ptr(5000),
	})
	if err != nil {
		return err
	}
	// 19:00 in Lagos, thirty days from now.
	lagos, err := time.LoadLocation("Africa/Lagos")
	if err != nil {
		return err
	}
	day := time.Now().In(lagos).AddDate(0, 0, 30)
	start := time.Date(day.Year(), day.Month(), day.Day(), 19, 0, 0, 0, lagos)
	salesOpen := time.Now().UTC().Add(-time.Hour)
	symphony := []ticketing.NewTicketType{
		{Name: "Orchestra", Kind: ticketing.Seated, Price: ptr[int64](1_500_000), Seats: ticketing.SeatSelection{Sections: []string{"Orchestra"}}},
		{Name: "Mezzanine", Kind: ticketing.Seated, Price: ptr[int64](1_000_000), Seats: ticketing.SeatSelection{Sections: []string{"Mezzanine"}}},
		{Name: "Balcony", Kind: ticketing.Seated, Price: ptr[int64](500_000), Seats: ticketing.SeatSelection{Sections: []string{"Balcony"}}},
	}
	festival := []ticketing.NewTicketType{
		{Name: "General", Kind: ticketing.GeneralAdmission, Price: ptr[int64](500_000), Capacity: ptr(4500), MaxPerOrder: ptr(6)},
		{Name: "VIP", Kind: ticketing.GeneralAdmission, Price: ptr[int64](2_000_000), Capacity: ptr(500), MaxPerOrder: ptr(4)},
	}
	for _, ev := range []struct {
		event ticketing.NewEvent
		types []ticketing.NewTicketType
	}{
		{ticketing.NewEvent{VenueID: hall.ID, Title: "Symphony Night", Description: "The Lagos Philharmonic plays Dvořák.",
			StartsAt: start, EndsAt: start.Add(3 * time.Hour), SalesStartAt: &salesOpen, SalesEndAt: &start}, symphony},
		{ticketing.NewEvent{VenueID: grounds.ID, Title: "Afrobeats Festival", Description: "A night of live music.",
			StartsAt: start.AddDate(0, 0, 7), EndsAt: start.AddDate(0, 0, 7).Add(6 * time.Hour), SalesStartAt: &salesOpen,
			SalesEndAt: ptr(start.AddDate(0, 0, 7))}, festival},
	} {
		e, err := events.CreateEvent(ctx, ev.event)
		if err != nil {
			return err
		}
		for _, tt := range ev.types {
			if _, err := events.CreateTicketType(ctx, e.ID, tt); err != nil {
				return err
			}
		}
		if _, err := events.PublishEvent(ctx, e.ID, nil); err != nil {
			return err
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
