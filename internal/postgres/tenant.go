package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qInsertTenant    = query("InsertTenant")
	qSelectTenant    = query("SelectTenant")
	qLockTenant      = query("LockTenant")
	qListTenants     = query("ListTenants")
	qUpdateTenant    = query("UpdateTenant")
	qUpdateSettings  = query("UpdateTenantSettings")
	qInsertTenantDom = query("InsertTenantDomain")
	qDeleteTenantDom = query("DeleteTenantDomain")
	qResolveTenant   = query("ResolveTenant")
)

// TenantService implements ticketing.TenantService. Its writes to tenants
// and their domains run as PlatformRole, the only role allowed them, and are
// audited in the tenant's own audit log, as the platform actor.
type TenantService struct {
	db     *DB
	hasher ticketing.PasswordHasher
}

var _ ticketing.TenantService = (*TenantService)(nil)

// NewTenantService returns a TenantService on db; hasher hashes the
// passwords of the admin accounts it creates.
func NewTenantService(db *DB, hasher ticketing.PasswordHasher) *TenantService {
	return &TenantService{db: db, hasher: hasher}
}

// CreateTenant implements ticketing.TenantService.
func (s *TenantService) CreateTenant(ctx context.Context, n ticketing.NewTenant) (*ticketing.Tenant, *ticketing.User, error) {
	if err := n.Validate(); err != nil {
		return nil, nil, err
	}
	hash, err := s.hasher.Hash(n.Admin.Password)
	if err != nil {
		return nil, nil, ticketing.Internal(err)
	}
	var (
		t     *ticketing.Tenant
		admin *ticketing.User
	)
	err = s.db.inTx(ctx, func(tx pgx.Tx) error {
		err := asPlatform(ctx, tx, func(tx pgx.Tx) error {
			var err error
			t, err = scanTenant(tx.QueryRow(ctx, qInsertTenant, n.Slug, n.Name, n.Currency, n.LogoURL, n.AccentColor), false)
			if isUniqueViolation(err, "tenants_slug_key") {
				return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeSlugTaken, "slug %q is already taken", n.Slug)
			}
			return err
		})
		if err != nil {
			return err
		}
		pctx, err := s.enterTenant(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if admin, err = insertUser(pctx, tx, n.Admin, hash); err != nil {
			return err
		}
		return writeAudit(pctx, tx, "tenant.create", "tenant", t.ID,
			map[string]string{"slug": n.Slug, "name": n.Name, "currency": n.Currency, "logoUrl": n.LogoURL,
				"accentColor": n.AccentColor, "adminId": admin.ID})
	})
	if err != nil {
		return nil, nil, translate(err, "tenant")
	}
	return t, admin, nil
}

// FindTenantByID implements ticketing.TenantService.
func (s *TenantService) FindTenantByID(ctx context.Context, id string) (*ticketing.Tenant, error) {
	t, err := scanTenant(s.db.Pool.QueryRow(ctx, qSelectTenant, id), true)
	return t, translate(err, "tenant")
}

// FindTenants implements ticketing.TenantService.
func (s *TenantService) FindTenants(ctx context.Context, f ticketing.TenantFilter) ([]*ticketing.Tenant, string, error) {
	after, afterID, err := cursorArgs(f.Page.Cursor)
	if err != nil {
		return nil, "", err
	}
	size := f.Page.Size()
	rows, err := s.db.Pool.Query(ctx, qListTenants, after, afterID, f.Status, size+1)
	if err != nil {
		return nil, "", translate(err, "tenant")
	}
	defer rows.Close()
	var out []*ticketing.Tenant
	for rows.Next() {
		t, err := scanTenant(rows, true)
		if err != nil {
			return nil, "", translate(err, "tenant")
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", translate(err, "tenant")
	}
	out, next := trimPage(out, size, func(x *ticketing.Tenant) (time.Time, string) { return x.CreatedAt, x.ID })
	return out, next, nil
}

// UpdateTenant implements ticketing.TenantService.
func (s *TenantService) UpdateTenant(ctx context.Context, id string, u ticketing.TenantUpdate) (*ticketing.Tenant, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, id, "tenant.update", u, func(tx pgx.Tx) error {
		var got string
		return tx.QueryRow(ctx, qUpdateTenant, id, u.Name, u.Status, u.Currency, u.PaystackSubaccount, u.PlatformFeeBps,
			u.LogoURL, u.AccentColor).Scan(&got)
	})
}

// UpdateTenantSettings implements ticketing.TenantService. The tenant is
// the one of ctx, never one named by the input, and the write touches only
// the name and branding; it runs as PlatformRole, the only role that may
// change a tenant row, and is audited as the organizer's actor of ctx.
func (s *TenantService) UpdateTenantSettings(ctx context.Context, u ticketing.TenantSettingsUpdate) (*ticketing.Tenant, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var t *ticketing.Tenant
	err := s.db.InTenant(ctx, func(tx pgx.Tx) error {
		id := ticketing.TenantFromContext(ctx).ID
		err := asPlatform(ctx, tx, func(tx pgx.Tx) error {
			var got string
			return tx.QueryRow(ctx, qUpdateSettings, id, u.Name, u.LogoURL, u.AccentColor).Scan(&got)
		})
		if err != nil {
			return err
		}
		if err := writeAudit(ctx, tx, "tenant.settings.update", "tenant", id, u); err != nil {
			return err
		}
		t, err = scanTenant(tx.QueryRow(ctx, qSelectTenant, id), true)
		return err
	})
	return t, translate(err, "tenant")
}

// AddTenantDomain implements ticketing.TenantService. The domain must have
// been normalized with ticketing.NormalizeDomain.
func (s *TenantService) AddTenantDomain(ctx context.Context, id, domain string) (*ticketing.Tenant, error) {
	return s.change(ctx, id, "tenant.domain.add", map[string]string{"domain": domain}, func(tx pgx.Tx) error {
		if err := s.lockTenant(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qInsertTenantDom, domain, id)
		if isUniqueViolation(err, "tenant_domains_pkey") {
			return ticketing.Errorf(ticketing.KindConflict, ticketing.CodeDomainTaken, "domain %q is already in use", domain)
		}
		return err
	})
}

// RemoveTenantDomain implements ticketing.TenantService.
func (s *TenantService) RemoveTenantDomain(ctx context.Context, id, domain string) (*ticketing.Tenant, error) {
	return s.change(ctx, id, "tenant.domain.remove", map[string]string{"domain": domain}, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qDeleteTenantDom, domain, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ticketing.NotFound("domain")
		}
		return nil
	})
}

// ResolveTenant implements ticketing.TenantService.
func (s *TenantService) ResolveTenant(ctx context.Context, host, slug string) (*ticketing.Tenant, error) {
	if host == "" && slug == "" {
		return nil, ticketing.NotFound("tenant")
	}
	t, err := scanTenant(s.db.Pool.QueryRow(ctx, qResolveTenant, host, slug), false)
	return t, translate(err, "tenant")
}

// change runs a platform write to tenant id as PlatformRole, audits it as
// action with details, and reads the changed tenant back in the same
// transaction, so that a committed change is never reported as a failure.
func (s *TenantService) change(ctx context.Context, id, action string, details any, write func(tx pgx.Tx) error) (*ticketing.Tenant, error) {
	var t *ticketing.Tenant
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if err := asPlatform(ctx, tx, func(tx pgx.Tx) error { return write(tx) }); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, id, action, details); err != nil {
			return err
		}
		var err error
		t, err = scanTenant(tx.QueryRow(ctx, qSelectTenant, id), true)
		return err
	})
	return t, translate(err, "tenant")
}

// lockTenant locks the tenant row for the rest of tx, or returns NotFound.
func (s *TenantService) lockTenant(ctx context.Context, tx pgx.Tx, id string) error {
	var got string
	return tx.QueryRow(ctx, qLockTenant, id).Scan(&got)
}

// enterTenant scopes the rest of tx to tenantID, acting as the platform,
// and returns the context that names that actor.
func (s *TenantService) enterTenant(ctx context.Context, tx pgx.Tx, tenantID string) (context.Context, error) {
	pctx := ticketing.WithActor(ctx, ticketing.SystemActor(ticketing.PlatformActor))
	return pctx, setTenant(pctx, tx, tenantID)
}

// audit records a platform write in the tenant's audit log, inside tx.
func (s *TenantService) audit(ctx context.Context, tx pgx.Tx, tenantID, action string, details any) error {
	pctx, err := s.enterTenant(ctx, tx, tenantID)
	if err != nil {
		return err
	}
	return writeAudit(pctx, tx, action, "tenant", tenantID, details)
}

// writeAudit appends a row to the audit log of the transaction's tenant,
// naming the actor and request of ctx.
func writeAudit(ctx context.Context, tx pgx.Tx, action, entity, entityID string, details any) error {
	a, _ := ticketing.ActorFromContext(ctx)
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("postgres: audit details: %w", err)
	}
	_, err = tx.Exec(ctx, qInsertAudit, a.UserID, a.Role, a.Name, action, entity, entityID,
		ticketing.RequestIDFromContext(ctx), b)
	return err
}

// scanTenant reads one tenant row; withDomains when the row ends with the
// tenant's domains.
func scanTenant(row pgx.Row, withDomains bool) (*ticketing.Tenant, error) {
	var t ticketing.Tenant
	dest := []any{&t.ID, &t.Slug, &t.Name, &t.Status, &t.Currency, &t.CreatedAt, &t.UpdatedAt, &t.PaystackSubaccount, &t.PlatformFeeBps,
		&t.LogoURL, &t.AccentColor}
	if withDomains {
		dest = append(dest, &t.Domains)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return &t, nil
}

var errBadCursor = ticketing.Errorf(ticketing.KindInvalid, ticketing.CodeValidation, "cursor is not valid; pass the nextCursor of the previous page")

// encodeCursor makes the opaque cursor of a (created_at, id) keyset position.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

// decodeCursor reverses encodeCursor.
func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || !ticketing.ValidID(id) {
		return time.Time{}, "", errBadCursor
	}
	return at, id, nil
}
