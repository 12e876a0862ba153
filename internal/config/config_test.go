package config

import (
	"cmp"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.PlatformDomain != "localhost" || c.RedisURL != DefaultRedisURL ||
		c.MigrationsDatabaseURL != DefaultMigrationsDatabaseURL || c.TenantCacheTTL != 15*time.Second ||
		c.PublicURL != "http://localhost:8080" || c.LogLevel != slog.LevelInfo {
		t.Fatalf("defaults: %+v", c)
	}
	if c.DatabaseURL != "postgres://ticketing_app@127.0.0.1:5432/ticketing?sslmode=disable" {
		t.Fatalf("derived DATABASE_URL %q", c.DatabaseURL)
	}
	if c.RequireServeSecrets() == nil {
		t.Fatal("serve accepted an empty PLATFORM_API_KEY")
	}
}

func TestLoadDerivesAppRoleWithoutOwnerPassword(t *testing.T) {
	c, err := Load(env(map[string]string{"MIGRATIONS_DATABASE_URL": "postgres://owner:s3cret@db:5432/tix"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://ticketing_app@db:5432/tix" {
		t.Fatalf("DATABASE_URL %q", c.DatabaseURL)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PORT": "99999", "DATABASE_URL": "mysql://x", "REDIS_URL": "http://x", "LOG_LEVEL": "loud",
		"TRUSTED_PROXIES": "10.0.0.0/8, nope", "TENANT_CACHE_TTL": "forever", "PLATFORM_API_KEY": "short",
		"PLATFORM_DOMAIN": "http://x",
	}))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"PORT", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "TRUSTED_PROXIES", "TENANT_CACHE_TTL", "PLATFORM_API_KEY", "PLATFORM_DOMAIN"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestLoadDatabasePoolMode(t *testing.T) {
	for name, tc := range map[string]struct {
		vars map[string]string
		fail string // what the error names, "" when accepted
	}{
		"sessionByDefault":  {vars: nil},
		"transaction":       {vars: map[string]string{"DATABASE_POOL_MODE": "transaction"}},
		"transactionExec":   {vars: map[string]string{"DATABASE_POOL_MODE": "transaction", "DATABASE_URL": "postgres://app@bouncer:6432/tix?default_query_exec_mode=exec"}},
		"sessionAnyMode":    {vars: map[string]string{"DATABASE_URL": "postgres://app@db/tix?default_query_exec_mode=cache_statement"}},
		"unknownMode":       {vars: map[string]string{"DATABASE_POOL_MODE": "statement"}, fail: "DATABASE_POOL_MODE"},
		"preparedStatement": {vars: map[string]string{"DATABASE_POOL_MODE": "transaction", "DATABASE_URL": "postgres://app@bouncer:6432/tix?default_query_exec_mode=cache_statement"}, fail: "DATABASE_URL's default_query_exec_mode=cache_statement"},
		"describeExecRead":  {vars: map[string]string{"DATABASE_POOL_MODE": "transaction", "DATABASE_READ_URL": "postgres://app@replica:6432/tix?default_query_exec_mode=describe_exec"}, fail: "DATABASE_READ_URL's default_query_exec_mode=describe_exec"},
		"readURLScheme":     {vars: map[string]string{"DATABASE_READ_URL": "mysql://replica/tix"}, fail: "DATABASE_READ_URL must use the scheme postgres"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(tc.vars))
			switch {
			case tc.fail == "" && err != nil:
				t.Fatal(err)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Fatalf("error %v, want one naming %q", err, tc.fail)
			case tc.fail == "" && c.DatabasePoolMode != cmp.Or(tc.vars["DATABASE_POOL_MODE"], PoolModeSession):
				t.Fatalf("pool mode %q", c.DatabasePoolMode)
			}
		})
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URL":      "postgres://app:pw-db@db/tix",
		"DATABASE_READ_URL": "postgres://app:pw-replica@replica/tix",
		"REDIS_URL":         "redis://:pw-redis@cache:6379/0",
		"PLATFORM_API_KEY":  "pk-0123456789abcdef",
		"TRUSTED_PROXIES":   "10.0.0.0/8,192.168.1.1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
	for _, secret := range []string{"pw-db", "pw-replica", "pw-redis", "pk-0123456789abcdef"} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("log shows %q: %s", secret, b.String())
		}
	}
	if len(c.TrustedProxies) != 2 {
		t.Errorf("trusted proxies %v", c.TrustedProxies)
	}
}

func TestServeRefusesTheDevelopmentSecrets(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"devPlatformKey":       {"PLATFORM_API_KEY": DevPlatformAPIKey, "JWT_SECRET": strings.Repeat("s", 40)},
		"devJWTSecret":         {"PLATFORM_API_KEY": strings.Repeat("k", 20), "JWT_SECRET": DevJWTSecret},
		"devJWTPreviousSecret": {"PLATFORM_API_KEY": strings.Repeat("k", 20), "JWT_SECRET": strings.Repeat("s", 40), "JWT_PREVIOUS_SECRETS": DevJWTSecret},
		"devTicketSecret":      {"PLATFORM_API_KEY": strings.Repeat("k", 20), "JWT_SECRET": strings.Repeat("s", 40), "TICKET_SIGNING_SECRET": DevTicketSigningSecret},
		"devWaitingRoomSecret": {"PLATFORM_API_KEY": strings.Repeat("k", 20), "JWT_SECRET": strings.Repeat("s", 40), "WAITING_ROOM_SECRET": DevWaitingRoomSecret},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(vars))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.RequireServeSecrets(); err == nil || !strings.Contains(err.Error(), "published development") {
				t.Fatalf("serve accepted the development secrets: %v", err)
			}
		})
	}
	c, err := Load(env(map[string]string{"PLATFORM_API_KEY": strings.Repeat("k", 20), "JWT_SECRET": strings.Repeat("s", 40),
		"TICKET_SIGNING_SECRET": strings.Repeat("t", 40), "WAITING_ROOM_SECRET": strings.Repeat("w", 40)}))
	if err != nil || c.RequireServeSecrets() != nil {
		t.Fatalf("serve refused secrets of its own: %v %v", err, c.RequireServeSecrets())
	}
}

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"unsetServesMetricsOnTheAPI", "", ""},
		{"everyInterface", ":9090", ":9090"},
		{"loopback", "127.0.0.1:9090", "127.0.0.1:9090"},
		{"ipv6", "[::]:9090", "[::]:9090"},
		{"trimmed", " :9090 ", ":9090"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"METRICS_ADDR": tc.value}))
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsAddr != tc.want {
				t.Fatalf("MetricsAddr %q, want %q", c.MetricsAddr, tc.want)
			}
		})
	}
	for _, value := range []string{"9090", "localhost", ":http", ":0", ":70000", "http://127.0.0.1:9090"} {
		t.Run("refused "+value, func(t *testing.T) {
			if _, err := Load(env(map[string]string{"METRICS_ADDR": value})); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
				t.Fatalf("METRICS_ADDR %q: %v", value, err)
			}
		})
	}
}

// TestPprofAddrOnlyOnLoopback: the profiler must not be reachable from the
// network, so an address of every interface or of another host is refused.
func TestPprofAddrOnlyOnLoopback(t *testing.T) {
	for _, value := range []string{"127.0.0.1:6060", "127.0.0.2:6060", "[::1]:6060", "localhost:6060", "LOCALHOST:6060", "[::ffff:127.0.0.1]:6060"} {
		t.Run("accepted "+value, func(t *testing.T) {
			c, err := Load(env(map[string]string{"PPROF_ADDR": value}))
			if err != nil || c.PprofAddr != value {
				t.Fatalf("PPROF_ADDR %q: %q %v", value, c.PprofAddr, err)
			}
		})
	}
	for _, value := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.0.0.5:6060", "pprof.example.com:6060", "127.0.0.1", "localhost:0"} {
		t.Run("refused "+value, func(t *testing.T) {
			_, err := Load(env(map[string]string{"PPROF_ADDR": value}))
			if err == nil || !strings.Contains(err.Error(), "PPROF_ADDR must be a loopback") {
				t.Fatalf("PPROF_ADDR %q: %v", value, err)
			}
		})
	}
}

func TestMailDefaultsFollowThePlatformDomain(t *testing.T) {
	c, err := Load(env(map[string]string{"PLATFORM_DOMAIN": "tickets.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPURL != "" || c.MailFrom != "ticketd <no-reply@tickets.example.com>" || c.MailConcurrency != 2 {
		t.Fatalf("mail defaults: SMTP_URL %q, MAIL_FROM %q, MAIL_CONCURRENCY %d", c.SMTPURL, c.MailFrom, c.MailConcurrency)
	}
}

func TestMailSettingsAreCheckedWithoutShowingThePassword(t *testing.T) {
	for name, vars := range map[string]map[string]string{
		"scheme":    {"SMTP_URL": "http://user:pw-smtp@mail.example.com"},
		"starttls":  {"SMTP_URL": "smtp://user:pw-smtp@mail.example.com?starttls=sometimes"},
		"port":      {"SMTP_URL": "smtps://user:pw-smtp@mail.example.com:70000"},
		"fromCRLF":  {"MAIL_FROM": "ticketd <no-reply@example.com>\r\nBcc: x@example.org"},
		"fromTwo":   {"MAIL_FROM": "a@example.com, b@example.com"},
		"fromBare":  {"MAIL_FROM": "ticketd"},
		"pool":      {"MAIL_CONCURRENCY": "0"},
		"poolLarge": {"MAIL_CONCURRENCY": "1000"},
	} {
		_, err := Load(env(vars))
		if err == nil {
			t.Errorf("%s: accepted %v", name, vars)
			continue
		}
		for key := range vars {
			if !strings.Contains(err.Error(), key) {
				t.Errorf("%s: the error does not name %s: %v", name, key, err)
			}
		}
		if strings.Contains(err.Error(), "pw-smtp") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

func TestLogValueMasksTheSMTPPassword(t *testing.T) {
	c, err := Load(env(map[string]string{"SMTP_URL": "smtps://apikey:pw-smtp@smtp.example.com:465", "MAIL_FROM": "Acme <tickets@acme.example>"}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
	if strings.Contains(b.String(), "pw-smtp") {
		t.Errorf("log shows the SMTP password: %s", b.String())
	}
	for _, want := range []string{`"smtpURL":"smtps://apikey:xxxxx@smtp.example.com:465"`, `"mailFrom":"Acme <tickets@acme.example>"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("log lacks %s: %s", want, b.String())
		}
	}
}

// TestTracingIsReadAndCheckedWithTheRest: tracing is off by default, and a
// bad OTEL_* value is one of the problems of the one-line error.
func TestTracingIsReadAndCheckedWithTheRest(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.Tracing.Enabled() {
		t.Fatalf("tracing by default: %+v, %v", c.Tracing, err)
	}
	c, err = Load(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}))
	if err != nil || c.Tracing.Endpoint != "http://collector:4318/v1/traces" {
		t.Fatalf("tracing with an endpoint: %+v, %v", c.Tracing, err)
	}
	_, err = Load(env(map[string]string{"PORT": "x", "OTEL_TRACES_SAMPLER": "sometimes"}))
	if err == nil || !strings.Contains(err.Error(), "PORT") || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want one line naming PORT and OTEL_TRACES_SAMPLER", err)
	}
}

func TestBookingLimits(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BookingMaxOpenHolds != 3 || c.BookingRateLimitUser != 30 || c.BookingRateLimitIP != 300 || c.BookingRateLimitWindow != time.Minute {
		t.Fatalf("defaults: open %d user %d ip %d window %s", c.BookingMaxOpenHolds, c.BookingRateLimitUser, c.BookingRateLimitIP, c.BookingRateLimitWindow)
	}
	c, err = Load(env(map[string]string{"BOOKING_MAX_OPEN_HOLDS": "0", "BOOKING_RATE_LIMIT_USER": "0", "BOOKING_RATE_LIMIT_IP": "5", "BOOKING_RATE_LIMIT_WINDOW": "10s"}))
	if err != nil || c.BookingMaxOpenHolds != 0 || c.BookingRateLimitUser != 0 || c.BookingRateLimitIP != 5 || c.BookingRateLimitWindow != 10*time.Second {
		t.Fatalf("set: %v %+v", err, c)
	}
	_, err = Load(env(map[string]string{"BOOKING_MAX_OPEN_HOLDS": "-1", "BOOKING_RATE_LIMIT_USER": "x", "BOOKING_RATE_LIMIT_IP": "-2", "BOOKING_RATE_LIMIT_WINDOW": "48h"}))
	for _, key := range []string{"BOOKING_MAX_OPEN_HOLDS", "BOOKING_RATE_LIMIT_USER", "BOOKING_RATE_LIMIT_IP", "BOOKING_RATE_LIMIT_WINDOW"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error does not name %s: %v", key, err)
		}
	}
}

func TestRedisURL(t *testing.T) {
	for _, tc := range []struct{ name, url, problem string }{
		{"standalone", "redis://:pw-redis@cache:6379/0", ""},
		{"cluster", "redis+cluster://app:pw-redis@a:7000,b:7001,c:7002", ""},
		{"clusterTLS", "rediss+cluster://:pw-redis@a:7000,b:7001/?dial_timeout=2s", ""},
		{"sentinel", "redis+sentinel://:pw-redis@s1:26379,s2:26379/0?master=ticketd&sentinel_password=pw-sentinel", ""},
		{"otherScheme", "http://:pw-redis@cache:6379", "REDIS_URL: the scheme must be"},
		{"clusterDatabase", "redis+cluster://:pw-redis@a:7000,b:7001/2", "REDIS_URL: a Redis Cluster has only database 0"},
		{"sentinelWithoutMaster", "redis+sentinel://:pw-redis@s1:26379,s2:26379", "REDIS_URL: a sentinel URL needs the primary's name"},
		{"clusterUnknownOption", "redis+cluster://:pw-redis@a:7000?pool=3", "REDIS_URL: redis: unexpected option: pool"},
		{"hostWithoutPort", "redis+cluster://:pw-redis@a,b:7001", `REDIS_URL: host "a" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"REDIS_URL": tc.url}
			c, err := Load(env(vars))
			if tc.problem == "" {
				if err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", c)
				if strings.Contains(b.String(), "pw-") || !strings.Contains(b.String(), "xxxxx") {
					t.Fatalf("log does not mask the passwords: %s", b.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("err = %v, want %q", err, tc.problem)
			}
			if strings.Contains(err.Error(), "pw-") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestRedisKeyPrefixHasNoBraces(t *testing.T) {
	_, err := Load(env(map[string]string{"REDIS_KEY_PREFIX": "app{1}:"}))
	if err == nil || !strings.Contains(err.Error(), "REDIS_KEY_PREFIX must not contain { or }") {
		t.Fatalf("err = %v", err)
	}
}

func TestDrainDelayAndShutdownTimeout(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DrainDelay != 5*time.Second || c.ShutdownTimeout != 15*time.Second {
		t.Fatalf("defaults: DRAIN_DELAY %v, SHUTDOWN_TIMEOUT %v", c.DrainDelay, c.ShutdownTimeout)
	}
	c, err = Load(env(map[string]string{"DRAIN_DELAY": "0s", "SHUTDOWN_TIMEOUT": "1m"}))
	if err != nil || c.DrainDelay != 0 || c.ShutdownTimeout != time.Minute {
		t.Fatalf("DRAIN_DELAY=0s SHUTDOWN_TIMEOUT=1m: %v %v %v", c.DrainDelay, c.ShutdownTimeout, err)
	}
	for _, vars := range []map[string]string{
		{"DRAIN_DELAY": "-1s"}, {"DRAIN_DELAY": "6m"}, {"DRAIN_DELAY": "soon"},
		{"SHUTDOWN_TIMEOUT": "0s"}, {"SHUTDOWN_TIMEOUT": "11m"},
	} {
		_, err := Load(env(vars))
		for key := range vars {
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%v: %v, want an error naming %s", vars, err, key)
			}
		}
	}
}
