package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketd-io/ticketd/internal/postgres"
)

// Bouncer is a PgBouncer in transaction pooling mode in front of one test
// database: each transaction of a client may run on a different server
// connection, and a server connection serves the transactions of many
// clients in turn, which is what makes session state leak or vanish.
type Bouncer struct {
	// AppURL connects as the application role through PgBouncer. The
	// service needs DATABASE_POOL_MODE=transaction (postgres.TransactionPooling)
	// to use it.
	AppURL string

	bin, dir string
	args     []string
	port     int
	log      *syncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd     // nil while stopped
	done chan struct{} // closed when cmd has exited
}

// Bouncer starts a PgBouncer (Debian's package pgbouncer) in transaction
// pooling mode in front of d, with at most serverConns server connections
// for the application role, on a free port of 127.0.0.1. It is stopped when
// the test ends (before d is dropped) and its log is printed if the test
// failed.
func (d *DB) Bouncer(t testing.TB, serverConns int) *Bouncer {
	t.Helper()
	bin := bouncerBinary()
	if bin == "" {
		t.Fatal("pgtest: pgbouncer is not installed: apt-get install --no-install-recommends pgbouncer " +
			"(.ci/run does, without starting its service)")
	}
	admin, err := url.Parse(adminURL())
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	var b *Bouncer
	// The port is found free and then given to PgBouncer: another process
	// may take it in between, so a start that fails is tried again.
	for attempt := 1; ; attempt++ {
		b, err = startBouncer(bin, admin, d.Name, serverConns)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("pgtest: start pgbouncer: %v", err)
		}
	}
	t.Cleanup(func() {
		b.Stop()
		if t.Failed() {
			t.Logf("pgtest: pgbouncer's log:\n%s", b.log.String())
		}
		_ = os.RemoveAll(b.dir)
	})
	return b
}

// Open connects a pool of up to maxConns client connections as the
// application role through b, as the service does with
// DATABASE_POOL_MODE=transaction. The pool is closed when the test ends.
func (b *Bouncer) Open(t testing.TB, maxConns int32) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), b.AppURL, maxConns, postgres.TransactionPooling(), func(cfg *pgxpool.Config) {
		// postgres.Open keeps connections open for an on-sale's first burst;
		// a test has none.
		cfg.MinConns = 0
	})
	if err != nil {
		t.Fatalf("pgtest: open a pool through pgbouncer: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// Stop stops PgBouncer at once, closing every connection through it, and
// waits for it to exit. A test calls it to take the database away from
// what connects through b; the test's end calls it too.
func (b *Bouncer) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM) // PgBouncer's immediate shutdown
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
}

// Restart starts b again after Stop, on the same port with the same
// configuration, and waits until it accepts connections: what connects
// through b finds the database again.
func (b *Bouncer) Restart(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	if err := b.start(); err != nil {
		t.Fatalf("pgtest: restart pgbouncer: %v", err)
	}
}

// start runs PgBouncer and waits until it listens; b.mu is held or b is
// not shared yet.
func (b *Bouncer) start() error {
	cmd, done := exec.Command(b.bin, b.args...), make(chan struct{})
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	b.cmd, b.done = cmd, done
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			b.cmd = nil
			return fmt.Errorf("pgbouncer exited: %s", b.log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			b.cmd = nil
			return errors.New("pgbouncer did not listen within 20s: " + b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bouncerBinary() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	// Debian installs it in sbin, which a user's PATH may not hold.
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	return ""
}

// startBouncer writes PgBouncer's configuration to a directory of its own
// and starts it in the foreground, then waits until it accepts connections.
func startBouncer(bin string, admin *url.URL, dbName string, serverConns int) (*Bouncer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-bouncer-")
	if err != nil {
		return nil, err
	}
	// PgBouncer refuses to run as root: as root it is started as nobody (-u),
	// who must be able to read its files.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	host, pgPort := admin.Hostname(), admin.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if pgPort == "" {
		pgPort = "5432"
	}
	// auth_type trust still needs the user in auth_file; Postgres itself
	// authenticates PgBouncer's server connections (trust, as for the tests).
	files := map[string]string{
		"users.txt": fmt.Sprintf("%q \"\"\n", AppRole),
		"pgbouncer.ini": fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
server_reset_query =
log_connections = 0
log_disconnections = 0
`, dbName, host, pgPort, dbName, port, filepath.Join(dir, "users.txt"), serverConns),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	b := &Bouncer{
		AppURL: (&url.URL{Scheme: "postgres", User: url.User(AppRole), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Path: "/" + dbName, RawQuery: "sslmode=disable"}).String(),
		bin: bin, dir: dir, args: args, port: port, log: &syncBuffer{},
	}
	if err := b.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer that PgBouncer's output and a test's log can
// share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
