// Package postgres implements the ticketing services on PostgreSQL through
// pgx. It owns every transaction: request-path SQL runs inside WithTenant,
// which scopes row-level security to one tenant for one transaction.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/redact"
	"github.com/ticketd-io/ticketd/internal/ticketing"
)

var (
	qCheckRuntimeRole = query("CheckRuntimeRole")
	qSetTenant        = query("SetTenant")
	qSetRole          = query("SetRole")
	qInsertAudit      = query("InsertAudit")
)

// DB is the application's connection pools, connected as the application
// role.
type DB struct {
	// Pool is the primary's: every write, and every read that must see what
	// was just written.
	Pool *pgxpool.Pool
	// Read, when not nil, is a replica's (DATABASE_READ_URL), for the reads
	// of ReadInTenant; without it they use Pool. OpenRead sets it.
	Read *pgxpool.Pool

	// readTimeout bounds a connection to Read and the begin of a
	// transaction there (see OpenRead).
	readTimeout time.Duration
	// readDown is nil while the replica serves ReadInTenant; otherwise it
	// says why it did not, and until when its reads use Pool.
	readDown atomic.Pointer[readOutage]
	// readFallbacks counts the reads of ReadInTenant that Pool served
	// because Read could not.
	readFallbacks atomic.Uint64
}

// readOutage is why the replica could not serve a read, and when a read
// tries it again.
type readOutage struct {
	err   error
	retry time.Time
}

const (
	// readConnectTimeout bounds a connection to the read replica, unless
	// DATABASE_READ_URL sets connect_timeout, and the begin of a read
	// there: a replica that does not answer costs a read that long once,
	// not every read.
	readConnectTimeout = time.Second
	// readBackoff is how long the reads of ReadInTenant use the primary,
	// without trying the replica, after the replica could not serve one.
	readBackoff = 5 * time.Second
)

// Open connects a pool to url and checks that the server answers. maxConns
// of 0 keeps pgx's default.
func Open(ctx context.Context, url string, maxConns int32, opts ...Option) (*DB, error) {
	pool, err := openPool(ctx, url, maxConns, opts)
	if err != nil {
		return nil, err
	}
	return &DB{Pool: pool}, nil
}

// OpenRead opens the pool of ReadInTenant on url, a read replica's (see
// ReadInTenant), without waiting for it to answer: the replica is an
// optimisation, and ReadInTenant reads the primary while it does not
// answer. PingRead tells whether it does. It is connected as the
// application role too, and every connection to it is checked as
// CheckRuntimeRole checks the primary's: row-level security binds the reads
// of a replica as it binds the primary's, and a connection whose role it
// would not bind is refused (ErrUnsafeRole), so the replica is never read
// through it.
func (db *DB) OpenRead(ctx context.Context, url string, maxConns int32, opts ...Option) error {
	pool, err := newPool(ctx, url, maxConns, append([]Option{readReplica}, opts...))
	if err != nil {
		return fmt.Errorf("%w (DATABASE_READ_URL)", err)
	}
	db.Read = pool
	db.readTimeout = pool.Config().ConnConfig.ConnectTimeout
	return nil
}

// readReplica bounds the replica's connects and the pings of its idle
// connections by readConnectTimeout (pgx's defaults are two minutes and
// none), and checks the role of each new connection.
func readReplica(cfg *pgxpool.Config) {
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = readConnectTimeout
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = cfg.ConnConfig.ConnectTimeout
	}
	timeout := cfg.ConnConfig.ConnectTimeout
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return checkRuntimeRole(ctx, conn, "DATABASE_READ_URL")
	}
}

func openPool(ctx context.Context, url string, maxConns int32, opts []Option) (*pgxpool.Pool, error) {
	pool, err := newPool(ctx, url, maxConns, opts)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s: %w", redact.URL(url), err)
	}
	return pool, nil
}

// newPool makes a pool of url that connects in the background.
func newPool(ctx context.Context, url string, maxConns int32, opts []Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	// Keep connections open between bursts: an on-sale starts with a burst,
	// and opening connections then is what its first requests would wait on.
	cfg.MinConns = min(cfg.MaxConns, 8)
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return pool, nil
}

// TransactionPooling makes the pool safe behind a pooler that hands each
// transaction any of its server connections (PgBouncer's pool_mode =
// transaction, DATABASE_POOL_MODE=transaction). pgx's default mode prepares
// named statements on a connection and reuses them later, outside the
// transaction that prepared them: another server connection does not have
// them (PgBouncer before 1.21, or without max_prepared_statements). Instead
// it caches only the descriptions of statements (parameter and result
// types, asked for once per client connection) and sends each statement
// unnamed, parsed in the same message as its execution: one round trip, and
// parameters and results keep pgx's binary formats, which QueryExecModeExec
// would give up (docs/benchmarks.md). A mode named in the URL
// (default_query_exec_mode) is kept when it is one of the safe ones;
// config.Load refuses the others.
//
// Nothing else of the service keeps state in a session: the tenant, the
// actor and the platform role are transaction-local settings, advisory
// locks are transaction-level, and the group commit's batch is one implicit
// transaction. Migrations are not so (SET ROLE for the session, goose's
// session lock): they connect directly, through MIGRATIONS_DATABASE_URL.
func TransactionPooling() Option {
	return func(cfg *pgxpool.Config) {
		switch cfg.ConnConfig.DefaultQueryExecMode {
		case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec:
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		}
	}
}

// Close closes the pools.
func (db *DB) Close() {
	db.Pool.Close()
	if db.Read != nil {
		db.Read.Close()
	}
}

// Ping checks that the primary answers; it backs the readiness probe. The
// read replica is PingRead's.
func (db *DB) Ping(ctx context.Context) error {
	return db.Pool.Ping(ctx)
}

// PingRead checks that the read replica answers (nil without one), for the
// readiness probe's report and at start: its answer also decides where
// ReadInTenant reads, as a read's would. While the reads use the primary
// (readBackoff after a failure) it returns the failure without connecting.
// A pool whose every connection is in use is serving reads: it is not
// pinged, so that the check does not wait behind them.
func (db *DB) PingRead(ctx context.Context) error {
	if db.Read == nil {
		return nil
	}
	if down := db.readDown.Load(); down != nil && time.Now().Before(down.retry) {
		return fmt.Errorf("read replica: %w", down.err)
	}
	if db.readBusy() {
		return nil
	}
	pingCtx, cancel := context.WithTimeout(ctx, db.readTimeout)
	defer cancel()
	if err := db.Read.Ping(pingCtx); err != nil {
		if ctx.Err() == nil {
			db.readFailed(err)
		}
		return fmt.Errorf("read replica: %w", err)
	}
	db.readServed()
	return nil
}

// ReadReplicaUp reports whether ReadInTenant reads the replica: false
// without one, and from a read or PingRead that found it not answering to
// the next that finds it answering.
func (db *DB) ReadReplicaUp() bool {
	return db.Read != nil && db.readDown.Load() == nil
}

// ReadFallbacks is how many reads of ReadInTenant the primary served
// because the read replica could not.
func (db *DB) ReadFallbacks() uint64 {
	return db.readFallbacks.Load()
}

// ErrUnsafeRole is returned by CheckRuntimeRole when the connected role could
// read or change rows of every tenant.
var ErrUnsafeRole = errors.New("postgres: the database role could bypass row-level security")

// CheckRuntimeRole refuses a role of the primary that row-level security
// would not bind: a superuser, a BYPASSRLS role, or a role that owns (or may
// become the owner of) a table, since an owner can disable RLS. It also
// refuses a role that holds the platform's writes to tenants and domains
// without switching to PlatformRole, as a ticketing_app that inherits that
// role's privileges would. The read replica's connections are checked as
// they open (OpenRead).
func (db *DB) CheckRuntimeRole(ctx context.Context) error {
	return checkRuntimeRole(ctx, db.Pool, "DATABASE_URL")
}

// querier is a pool or one connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func checkRuntimeRole(ctx context.Context, q querier, setting string) error {
	var (
		role                                     string
		super, bypass, ownerOf, create, platform bool
	)
	err := q.QueryRow(ctx, qCheckRuntimeRole).Scan(&role, &super, &bypass, &ownerOf, &create, &platform)
	if err != nil {
		return fmt.Errorf("postgres: check role: %w", err)
	}
	var why []string
	if super {
		why = append(why, "is a superuser")
	}
	if bypass {
		why = append(why, "has BYPASSRLS")
	}
	if ownerOf {
		why = append(why, "owns or can become the owner of tables")
	}
	if create {
		why = append(why, "can create objects in schema public")
	}
	if platform {
		why = append(why, "can change tenants or their domains without SET ROLE "+PlatformRole+" (make it NOINHERIT)")
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: role %q %v; connect as the application role (ticketing_app by default) through %s", ErrUnsafeRole, role, why, setting)
	}
	return nil
}

// WithTenant runs fn in one transaction in which row-level security admits
// only rows of tenantID, and the acting user and role of ctx are visible to
// SQL as app.user_id and app.role. The settings are transaction-local
// (set_config(..., true)), so they never leak to the next borrower of the
// pooled connection. The transaction commits when fn returns nil.
func (db *DB) WithTenant(ctx context.Context, tenantID string, fn func(tx pgx.Tx) error) error {
	if tenantID == "" {
		return ticketing.Internal(errors.New("postgres: WithTenant without a tenant"))
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if err := setTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// SnapshotWithTenant is WithTenant for a read of several statements that
// must agree with each other: a read-only transaction on the primary whose
// statements all see one snapshot (REPEATABLE READ). Under READ COMMITTED a
// commit landing between two statements is seen by the second only: a
// booking confirmed between the read of the sold counts and the read of the
// pending bookings would be in neither.
func (db *DB) SnapshotWithTenant(ctx context.Context, tenantID string, fn func(tx pgx.Tx) error) error {
	if tenantID == "" {
		return ticketing.Internal(errors.New("postgres: SnapshotWithTenant without a tenant"))
	}
	return inTx(ctx, db.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := setTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// InTenant is WithTenant for the tenant carried by ctx.
func (db *DB) InTenant(ctx context.Context, fn func(tx pgx.Tx) error) error {
	t := ticketing.TenantFromContext(ctx)
	if t == nil {
		return ticketing.Internal(errors.New("postgres: no tenant in context"))
	}
	return db.WithTenant(ctx, t.ID, fn)
}

// ReadInTenant is InTenant for reads that may lag behind writes: a buyer's
// browsing of the catalog. It runs fn in a read-only transaction on the read
// replica's pool (Read), or on the primary's when there is none. A replica
// is behind the primary by its replication lag, so a read of what the
// caller may just have written (a buyer's own bookings, a checkout, the
// organizer's console) must use InTenant.
//
// The replica is an optimisation, never a dependency: when it cannot begin
// the transaction (no connection within readTimeout: refused, unknown host,
// no answer; or a begin that fails or takes as long; see beginRead), the
// read runs on the primary instead, and so do the reads of the next
// readBackoff, without trying the replica; then one read tries it again,
// while the others keep to the primary until it answers. fn runs once, on
// one of them: it has not started when the replica fails to begin, and an
// error once it has (a query's, the commit's) is returned as it is. A
// cancelled ctx is returned too: it says nothing about the replica.
func (db *DB) ReadInTenant(ctx context.Context, fn func(tx pgx.Tx) error) error {
	t := ticketing.TenantFromContext(ctx)
	if t == nil {
		return ticketing.Internal(errors.New("postgres: no tenant in context"))
	}
	read := func(tx pgx.Tx) error {
		if err := setTenant(ctx, tx, t.ID); err != nil {
			return err
		}
		return fn(tx)
	}
	if db.readReplica() {
		tx, release, err := db.beginRead(ctx)
		if err == nil {
			defer release()
			db.readServed()
			return endTx(ctx, tx, read)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("postgres: begin: %w", err)
		}
		db.readFailed(err)
	}
	if db.Read != nil {
		db.readFallbacks.Add(1)
	}
	return inTx(ctx, db.Pool, readOnly, read)
}

// readOnly are the options of ReadInTenant's transactions.
var readOnly = pgx.TxOptions{AccessMode: pgx.ReadOnly}

// readReplica reports whether a read of ReadInTenant tries the replica: while
// it serves, and for one read once readBackoff has passed since it could
// not (the others meanwhile keep to the primary, which that read's attempt
// does not delay).
func (db *DB) readReplica() bool {
	if db.Read == nil {
		return false
	}
	down := db.readDown.Load()
	if down == nil {
		return true
	}
	now := time.Now()
	return !now.Before(down.retry) && db.readDown.CompareAndSwap(down, &readOutage{err: down.err, retry: now.Add(readBackoff)})
}

// beginRead begins a read-only transaction on the replica and returns it
// with the release of its connection. Getting a connection and beginning
// are each bounded by readTimeout: a connection whose server is gone may
// not say so before it is written to, and an idle one is pinged first. A
// pool whose every connection is in use is serving reads, though: then the
// read waits for a connection as a read of the primary would.
func (db *DB) beginRead(ctx context.Context) (pgx.Tx, func(), error) {
	acquireCtx, cancel := context.WithTimeout(ctx, db.readTimeout)
	conn, err := db.Read.Acquire(acquireCtx)
	cancel()
	if err != nil && ctx.Err() == nil && db.readBusy() {
		conn, err = db.Read.Acquire(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	beginCtx, cancel := context.WithTimeout(ctx, db.readTimeout)
	defer cancel()
	tx, err := conn.BeginTx(beginCtx, readOnly)
	if err != nil {
		conn.Release()
		return nil, nil, err
	}
	return tx, conn.Release, nil
}

// readBusy reports whether every connection of the replica's pool is in
// use.
func (db *DB) readBusy() bool {
	s := db.Read.Stat()
	return s.AcquiredConns() >= s.MaxConns()
}

// readFailed sends the reads to the primary for readBackoff, and closes the
// replica's idle connections: what failed one (a restart, a network that
// dropped) may have failed them all, and the read that tries the replica
// again should then wait for one connect, not for each of them.
func (db *DB) readFailed(err error) {
	db.readDown.Store(&readOutage{err: err, retry: time.Now().Add(readBackoff)})
	db.Read.Reset()
}

// readServed sends the reads back to the replica.
func (db *DB) readServed() {
	if db.readDown.Load() != nil {
		db.readDown.Store(nil)
	}
}

// PlatformRole is the only role that may change tenants and their domains.
// The application role is a member that does not inherit its privileges:
// the platform API's transactions switch to it for those writes alone.
const PlatformRole = "ticketing_platform"

// asPlatform runs write as PlatformRole and then switches tx back to the
// role that logged in. The switch is transaction-local, like the tenant, so
// a failed write that aborts tx cannot leave the role behind either.
func asPlatform(ctx context.Context, tx pgx.Tx, write func(tx pgx.Tx) error) error {
	if _, err := tx.Exec(ctx, qSetRole, PlatformRole); err != nil {
		return fmt.Errorf("postgres: set role %s: %w", PlatformRole, err)
	}
	if err := write(tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qSetRole, "none"); err != nil {
		return fmt.Errorf("postgres: reset role: %w", err)
	}
	return nil
}

// setTenant scopes the rest of tx to tenantID and the actor of ctx.
func setTenant(ctx context.Context, tx pgx.Tx, tenantID string) error {
	a, _ := ticketing.ActorFromContext(ctx)
	if _, err := tx.Exec(ctx, qSetTenant, tenantID, a.UserID, a.Role); err != nil {
		return fmt.Errorf("postgres: set tenant: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction on the primary.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return inTx(ctx, db.Pool, pgx.TxOptions{}, fn)
}

// inTx runs fn in a transaction of pool. The rollback of a failed
// transaction runs on a context of its own so that a cancelled request
// cannot leave it open.
func inTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	return endTx(ctx, tx, fn)
}

// endTx runs fn in tx and commits it, or rolls it back when fn or the
// commit fails.
func endTx(ctx context.Context, tx pgx.Tx, fn func(tx pgx.Tx) error) (err error) {
	defer func() {
		if err != nil {
			rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tx.Rollback(rbCtx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// PostgreSQL error codes the storage layer translates.
const (
	codeUniqueViolation = "23505"
	codeInvalidText     = "22P02"
	codeRLSViolation    = "42501"
)

// pgError returns the PostgreSQL error in err's chain, or nil.
func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// isUniqueViolation reports whether err violates the named unique constraint.
func isUniqueViolation(err error, constraint string) bool {
	return isViolation(err, codeUniqueViolation, constraint)
}

// isViolation reports whether err is the PostgreSQL error code on the named
// constraint.
func isViolation(err error, code, constraint string) bool {
	pe := pgError(err)
	return pe != nil && pe.Code == code && pe.ConstraintName == constraint
}

// translate turns driver errors into application errors: no rows and rows of
// another tenant become NotFound (what names the entity), anything unexpected
// becomes Internal.
func translate(err error, what string) error {
	if err == nil || ticketing.AsError(err) != nil {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ticketing.NotFound(what)
	}
	if pe := pgError(err); pe != nil && (pe.Code == codeRLSViolation || pe.Code == codeInvalidText) {
		return ticketing.NotFound(what)
	}
	return ticketing.Internal(err)
}
