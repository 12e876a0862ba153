package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry"
)

const testJWTSecret = "test-jwt-secret-0123456789abcdef0123456789"

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestServeRefusesRoleThatBypassesRLS(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	// A superuser as the primary's role, or as the read replica's: row-level
	// security would bind neither.
	for setting, vars := range map[string]map[string]string{
		"DATABASE_URL":      {"DATABASE_URL": db.AdminURL},
		"DATABASE_READ_URL": {"DATABASE_URL": db.AppURL, "DATABASE_READ_URL": db.AdminURL},
	} {
		maps.Copy(vars, map[string]string{
			"REDIS_URL":        redistest.URL(),
			"PLATFORM_API_KEY": "test-platform-key-0123456789",
			"JWT_SECRET":       testJWTSecret, "TICKET_SIGNING_SECRET": testJWTSecret, "WAITING_ROOM_SECRET": testJWTSecret,
		})
		err := run(context.Background(), []string{"serve"}, env(vars), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "superuser") ||
			!strings.Contains(err.Error(), "through "+setting) {
			t.Fatalf("superuser in %s: got %v, want a refusal naming the superuser and %s", setting, err, setting)
		}
	}
}

func TestInvalidConfigurationIsOneClearLine(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"serve"}, env(map[string]string{
		"PORT": "http", "TRUSTED_PROXIES": "not-an-ip", "PLATFORM_API_KEY": "short",
	}), io.Discard)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %q, want one line", err)
	}
	for _, want := range []string{"PORT", "TRUSTED_PROXIES", "PLATFORM_API_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %s", err, want)
		}
	}
	err = run(context.Background(), []string{"serve"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PLATFORM_API_KEY is required") || !strings.Contains(err.Error(), "JWT_SECRET is required") {
		t.Fatalf("serve without secrets: %v", err)
	}
}

func TestServeLogsMaskedConfigAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	cfg, err := config.Load(env(map[string]string{
		"DATABASE_URL":     strings.Replace(db.AppURL, "ticketing_app@", "ticketing_app:db-secret-pw@", 1),
		"REDIS_URL":        redistest.URL(),
		"PLATFORM_API_KEY": "test-platform-key-0123456789",
		"JWT_SECRET":       testJWTSecret, "TICKET_SIGNING_SECRET": testJWTSecret, "WAITING_ROOM_SECRET": testJWTSecret,
		"BIND_ADDR": "127.0.0.1", "DRAIN_DELAY": "10ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = 0 // any free port
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, &out, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("serve ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start within 30s")
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("listening on %s, want BIND_ADDR 127.0.0.1", addr)
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%s/readyz", port))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of cancellation")
	}
	log := out.String()
	for _, secret := range []string{"db-secret-pw", "test-platform-key-0123456789", testJWTSecret} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains secret %q", secret)
		}
	}
	if !strings.Contains(log, `"platformAPIKey":"******"`) {
		t.Errorf("log lacks the masked configuration:\n%s", log)
	}
	// Each phase of the shutdown is logged, in order.
	at := 0
	for _, phase := range []string{`"msg":"draining`, `"msg":"shutting down`, `"msg":"stopped"`} {
		i := strings.Index(log[at:], phase)
		if i < 0 {
			t.Fatalf("log lacks %s after the earlier phases:\n%s", phase, log)
		}
		at += i
	}
}

func TestSeedCreatesTheDemoOnceAndOnlyIntoAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	cfg, err := config.Load(env(map[string]string{"DATABASE_URL": db.AppURL, "REDIS_URL": redistest.URL(), "REDIS_KEY_PREFIX": rdb.Prefix}))
	if err != nil {
		t.Fatal(err)
	}
	// A running instance's tenant cache hears of the new organizer.
	var subscribed atomic.Bool
	heard := make(chan string, 4)
	bus := rdb.Invalidations(slog.New(slog.DiscardHandler), telemetry.New("test"))
	bus.Handle(httpapi.TenantCacheKind, func(id string) { heard <- id }, func() { subscribed.Store(true) })
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	go func() { defer close(running); bus.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-running })
	within(t, "the bus subscribed", subscribed.Load)

	var out bytes.Buffer
	if err := seed(context.Background(), cfg, &out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "admin@demo.test / demo-admin-pass") {
		t.Fatalf("seed does not print the demo credentials: %s", out.String())
	}
	var demoID string
	if err := db.Admin.QueryRow(context.Background(), "SELECT id::text FROM tenants WHERE slug = 'demo'").Scan(&demoID); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-heard:
		if id != demoID {
			t.Fatalf("seed announced tenant %s, want the demo's %s", id, demoID)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("after 20s: seed did not announce the new tenant")
	}
	var published, seats, seatedTypes, gaTypes int
	err = db.Admin.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM events WHERE status = 'published' AND sales_start_at < now() AND sales_end_at > now()),
		(SELECT count(*) FROM seats),
		(SELECT count(*) FROM ticket_types WHERE kind = 'seated'),
		(SELECT count(*) FROM ticket_types WHERE kind = 'general_admission')`).Scan(&published, &seats, &seatedTypes, &gaTypes)
	if err != nil || published != 2 || seats != 300 || seatedTypes != 3 || gaTypes != 2 {
		t.Fatalf("seeded %d events on sale, %d seats, %d seated and %d GA types (%v); want 2, 300, 3, 2", published, seats, seatedTypes, gaTypes, err)
	}
	out.Reset()
	if err := seed(context.Background(), cfg, &out, false); err != nil || !strings.Contains(out.String(), "exists already") {
		t.Fatalf("a second seed: %v %q", err, out.String())
	}
	if err := seed(context.Background(), cfg, &out, true); err != nil {
		t.Fatal(err)
	}
	var tenants int
	if err := db.Admin.QueryRow(context.Background(), "SELECT count(*) FROM tenants").Scan(&tenants); err != nil || tenants != 1 {
		t.Fatalf("%d tenants after seeding three times", tenants)
	}
	// The demo's accounts, one of each role, as printed.
	roles := map[string]string{}
	rows, err := db.Admin.Query(context.Background(), "SELECT email, role FROM users")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var email, role string
		if err := rows.Scan(&email, &role); err != nil {
			t.Fatal(err)
		}
		roles[email] = role
	}
	if roles[demoAdminEmail] != "ADMIN" || roles[demoDoorEmail] != "CHECKIN" || roles[demoBuyerEmail] != "USER" || len(roles) != 3 {
		t.Fatalf("the demo's accounts: %v", roles)
	}
}

func TestInventoryCheckFindsDriftAndRebuildRepairs(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	rdb := redistest.New(t)
	vars := map[string]string{"DATABASE_URL": db.AppURL, "REDIS_URL": redistest.URL(), "REDIS_KEY_PREFIX": rdb.Prefix}
	cfg, err := config.Load(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if err := seed(context.Background(), cfg, io.Discard, true); err != nil {
		t.Fatal(err)
	}
	var eventID string
	if err := db.Admin.QueryRow(context.Background(), "SELECT id::text FROM events WHERE title = 'Symphony Night'").Scan(&eventID); err != nil {
		t.Fatal(err)
	}
	check := func(cmd string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"inventory", cmd, "--event", eventID}, env(vars), &out)
		return out.String(), err
	}
	if out, err := check("check"); err != nil || !strings.Contains(out, "inventory: consistent") {
		t.Fatalf("check of a fresh event: %v\n%s", err, out)
	}
	// Damage Redis: one more seat than exists is "available".
	keys, err := rdb.Keys(context.Background(), rdb.Prefix+"inv:*:avail").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("avail keys %v (%v)", keys, err)
	}
	fields, err := rdb.HKeys(context.Background(), keys[0]).Result()
	if err != nil || len(fields) == 0 {
		t.Fatal(err)
	}
	if err := rdb.HIncrBy(context.Background(), keys[0], fields[0], 1).Err(); err != nil {
		t.Fatal(err)
	}
	if out, err := check("check"); !errors.Is(err, errInventoryDrift) || !strings.Contains(out, fields[0]) {
		t.Fatalf("check of damaged inventory: %v\n%s", err, out)
	}
	if out, err := check("rebuild"); err != nil || !strings.Contains(out, "inventory: consistent") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	// Damage a buyer's count: Redis says a buyer holds a ticket Postgres
	// knows nothing of. The check finds it; the rebuild recounts from
	// Postgres.
	buyers := strings.TrimSuffix(keys[0], "avail") + "buyers"
	if err := rdb.HSet(context.Background(), buyers, "t:00000000-0000-0000-0000-000000000001", 2).Err(); err != nil {
		t.Fatal(err)
	}
	if out, err := check("check"); !errors.Is(err, errInventoryDrift) || !strings.Contains(out, "buyers t:00000000-0000-0000-0000-000000000001: Postgres 0, Redis 2") {
		t.Fatalf("check of a damaged buyer count: %v\n%s", err, out)
	}
	if out, err := check("rebuild"); err != nil || !strings.Contains(out, "inventory: consistent") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
}

// TestDevAndSimulatorListenOnLoopbackByDefault: they run with published
// keys; only an explicit BIND_ADDR opens them to the network.
func TestDevAndSimulatorListenOnLoopbackByDefault(t *testing.T) {
	unset := env(map[string]string{})
	if got := loopbackByDefault(devEnv(unset))("BIND_ADDR"); got != "127.0.0.1" {
		t.Fatalf("dev binds %q by default", got)
	}
	if got := loopbackByDefault(env(map[string]string{"BIND_ADDR": "0.0.0.0"}))("BIND_ADDR"); got != "0.0.0.0" {
		t.Fatalf("an explicit BIND_ADDR became %q", got)
	}
	if got := loopbackByDefault(unset)("PORT"); got != "" {
		t.Fatalf("other settings are left alone: PORT %q", got)
	}
	if _, err := config.Load(env(map[string]string{"BIND_ADDR": "example.com"})); err == nil || !strings.Contains(err.Error(), "BIND_ADDR") {
		t.Fatalf("BIND_ADDR example.com: %v", err)
	}
}

// TestDevSendsMailToItsSinkUnlessSMTPIsSet: `ticketd dev` points mail at
// the sink it runs on loopback; a configured SMTP_URL wins, and serve has
// no sink to fall back to.
func TestDevSendsMailToItsSinkUnlessSMTPIsSet(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{}, "smtp://127.0.0.1:1025?starttls=none"},
		{map[string]string{"DEV_SMTP_PORT": "2525"}, "smtp://127.0.0.1:2525?starttls=none"},
		{map[string]string{"SMTP_URL": "smtps://u:p@mail.example.com"}, "smtps://u:p@mail.example.com"},
	} {
		cfg, err := config.Load(devEnv(env(tc.vars)))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.SMTPURL != tc.want {
			t.Errorf("%v: SMTP_URL %q, want %q", tc.vars, cfg.SMTPURL, tc.want)
		}
	}
	if cfg, err := config.Load(env(map[string]string{})); err != nil || cfg.SMTPURL != "" {
		t.Errorf("serve's SMTP_URL %q (%v), want none: mail is logged", cfg.SMTPURL, err)
	}
	if _, err := loadDevMailSettings(env(map[string]string{"DEV_SMTP_PORT": "0", "DEV_MAIL_PORT": "http"})); err == nil ||
		!strings.Contains(err.Error(), "DEV_SMTP_PORT") || !strings.Contains(err.Error(), "DEV_MAIL_PORT") {
		t.Errorf("bad dev mail ports: %v", err)
	}
}

// TestConnectionFloodIsShedNotFatal: past HTTP_MAX_CONNS, idle connections
// with half a request (a slowloris) make new ones get 503, and the server
// serves again once they are gone.
func TestConnectionFloodIsShedNotFatal(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	cfg, err := config.Load(env(map[string]string{
		"DATABASE_URL": db.AppURL, "REDIS_URL": redistest.URL(), "PLATFORM_API_KEY": "test-platform-key-0123456789",
		"JWT_SECRET": testJWTSecret, "TICKET_SIGNING_SECRET": testJWTSecret, "WAITING_ROOM_SECRET": testJWTSecret, "BIND_ADDR": "127.0.0.1", "HTTP_MAX_CONNS": "4", "LOG_LEVEL": "error", "DRAIN_DELAY": "0s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Port = 0
	addr := startServe(t, cfg)
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	status := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
			return err.Error()
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(line)
	}
	waitFor := func(what, want string) {
		deadline := time.Now().Add(30 * time.Second)
		for got := status(); !strings.Contains(got, want); got = status() {
			if time.Now().After(deadline) {
				t.Fatalf("after 30s: %s: last answer %q", what, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("a connection past the cap is shed with 503", "503")
	for _, c := range idle {
		c.Close()
	}
	waitFor("the server serves again once the flood is gone", "200")
}
