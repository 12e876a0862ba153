package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The Redis Cluster and the Sentinel-watched primary are started from
// redis-server, once per test binary (the first test that asks for one
// waits for it), and shared by the package's tests, each under its own key
// prefix as on the default Redis. Main stops them when the tests end; they
// also die with the test binary if it is killed (a -timeout), see
// startProcess.

// sentinelMaster is the name the Sentinel knows its primary by.
const sentinelMaster = "ticketd-test"

// startTimeout bounds the start of a cluster or a sentinel: on a busy
// two-core machine redis-server takes a while to start and the nodes to
// agree.
const startTimeout = 90 * time.Second

var servers struct {
	mu       sync.Mutex
	main     bool // Main runs the tests
	dir      string
	procs    []*process
	cluster  []string
	sentinel string
	// A failed start fails every later test that asks too.
	clusterErr, sentinelErr error
}

// Main runs the tests of a package that uses ClusterURL or SentinelURL,
// then stops the servers they started and removes their files. Call it from
// the package's TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	servers.mu.Lock()
	servers.main = true
	servers.mu.Unlock()
	code := m.Run()
	stopServers()
	os.Exit(code)
}

// ClusterURL returns the redis+cluster:// URL of a three-primary Redis
// Cluster without replicas on loopback, started on first use. Give it to
// NewOn for a client under a prefix of the test's own. Without redis-server
// on PATH the test is skipped, or fails under CI.
func ClusterURL(t testing.TB) string {
	t.Helper()
	need(t)
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if servers.cluster == nil && servers.clusterErr == nil {
		servers.cluster, servers.clusterErr = startCluster(3)
	}
	if servers.clusterErr != nil {
		t.Fatalf("redistest: Redis Cluster: %v", servers.clusterErr)
	}
	return "redis+cluster://" + strings.Join(servers.cluster, ",")
}

// SentinelURL returns the redis+sentinel:// URL of a primary watched by one
// Sentinel on loopback, started on first use, like ClusterURL.
func SentinelURL(t testing.TB) string {
	t.Helper()
	need(t)
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if servers.sentinel == "" && servers.sentinelErr == nil {
		servers.sentinel, servers.sentinelErr = startSentinel()
	}
	if servers.sentinelErr != nil {
		t.Fatalf("redistest: Redis Sentinel: %v", servers.sentinelErr)
	}
	return "redis+sentinel://" + servers.sentinel + "/15?master=" + sentinelMaster
}

// need skips t without redis-server on PATH (fails it under CI, where it
// must run), and fails it when the package's TestMain does not call Main.
func need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redistest: redis-server is not on PATH (deploy/local-services.sh installs it)")
		}
		t.Skip("redistest: redis-server is not on PATH: this test starts its own Redis servers")
	}
	servers.mu.Lock()
	defer servers.mu.Unlock()
	if !servers.main {
		t.Fatal("redistest: the package's TestMain must call redistest.Main, which stops the servers")
	}
}

// stopServers stops every server started and removes their directory.
func stopServers() {
	servers.mu.Lock()
	defer servers.mu.Unlock()
	for _, p := range servers.procs {
		p.stop()
	}
	servers.procs = nil
	if servers.dir != "" {
		_ = os.RemoveAll(servers.dir)
		servers.dir = ""
	}
}

// serverDir returns the directory of the servers' files (their node and
// sentinel configurations, their logs), made on first use. It is named
// after the test binary's pid; those of binaries that were killed, and
// left theirs behind, are removed.
func serverDir() (string, error) {
	if servers.dir != "" {
		return servers.dir, nil
	}
	const pattern = "ticketd-redistest-"
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern+"*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), pattern), "-", 2)[0])
		if err == nil && pid != os.Getpid() && processGone(pid) {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", pattern+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", err
	}
	servers.dir = dir
	return dir, nil
}

// startServer starts redis-server on a free loopback port and returns the
// port once it answers. conf, when not empty, is its configuration file;
// args may use the port through the placeholder {port}. A port taken
// meanwhile by another process (another package's test binary) makes it try
// another.
func startServer(ctx context.Context, name, conf string, args ...string) (int, error) {
	dir, err := serverDir()
	if err != nil {
		return 0, err
	}
	var lastErr error
	for range 10 {
		port, err := freePort()
		if err != nil {
			return 0, err
		}
		p := strconv.Itoa(port)
		logfile := filepath.Join(dir, name+"-"+p+".log")
		var full []string
		if conf != "" {
			full = append(full, conf)
		}
		full = append(full, "--port", p, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--logfile", logfile)
		for _, a := range args {
			full = append(full, strings.ReplaceAll(a, "{port}", p))
		}
		cmd := exec.Command("redis-server", full...)
		if err := startProcess(cmd); err != nil {
			return 0, fmt.Errorf("start redis-server: %w", err)
		}
		pr := &process{cmd: cmd, exited: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(pr.exited) }()
		c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + p, MaxRetries: -1})
		err = poll(ctx, pr.exited, func() bool { return c.Ping(ctx).Err() == nil })
		_ = c.Close()
		if err == nil {
			servers.procs = append(servers.procs, pr)
			return port, nil
		}
		pr.stop()
		lastErr = fmt.Errorf("redis-server (%s) on port %s: %w (log: %s)", name, p, err, logfile)
		if ctx.Err() != nil {
			break
		}
	}
	return 0, lastErr
}

// process is a running redis-server.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it exited and was waited for
}

// stop asks redis-server to exit, and kills it if it has not after ten
// seconds.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// errExited is poll's error for a process that exited before it was ready.
var errExited = errors.New("exited")

// poll calls ready every 50ms until it is true, the process exits or ctx
// ends.
func poll(ctx context.Context, exited <-chan struct{}, ready func() bool) error {
	for !ready() {
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// freePort picks a random loopback port, below Linux's ephemeral range
// (32768 and up) so that no outgoing connection takes it meanwhile, that
// is free, and whose cluster bus port (port + 10000) is free too.
func freePort() (int, error) {
	for range 200 {
		p := 10000 + rand.IntN(22000)
		if free(p) && free(p+10000) {
			return p, nil
		}
	}
	return 0, errors.New("no free port")
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// startCluster starts n cluster-enabled servers, gives each an equal share
// of the 16384 slots, introduces them and returns their addresses once
// every node says the cluster is ok.
func startCluster(n int) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var addrs []string
	for range n {
		// A generous node timeout: a node starved of CPU on a busy
		// machine must not be taken for failed, which with no replicas
		// fails the cluster.
		port, err := startServer(ctx, "cluster", "", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-{port}.conf", "--cluster-node-timeout", "60000")
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	nodes := make([]*goredis.Client, n)
	for i, addr := range addrs {
		nodes[i] = goredis.NewClient(&goredis.Options{Addr: addr})
		defer nodes[i].Close()
	}
	for i, node := range nodes {
		lo, hi := i*16384/n, (i+1)*16384/n-1
		if err := node.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return nil, fmt.Errorf("%s: cluster addslots: %w", addrs[i], err)
		}
		// Distinct epochs, as redis-cli --cluster create sets them.
		if err := node.Do(ctx, "cluster", "set-config-epoch", i+1).Err(); err != nil {
			return nil, fmt.Errorf("%s: cluster set-config-epoch: %w", addrs[i], err)
		}
	}
	for _, addr := range addrs[1:] {
		host, port, _ := net.SplitHostPort(addr)
		if err := nodes[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			return nil, fmt.Errorf("%s: cluster meet %s: %w", addrs[0], addr, err)
		}
	}
	want := []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:" + strconv.Itoa(n)}
	for i, node := range nodes {
		err := poll(ctx, nil, func() bool {
			info, err := node.ClusterInfo(ctx).Result()
			if err != nil {
				return false
			}
			for _, w := range want {
				if !strings.Contains(info, w+"\r\n") {
					return false
				}
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("%s: waiting for %s: %w", addrs[i], strings.Join(want, ", "), err)
		}
	}
	return addrs, nil
}

// startSentinel starts a primary and a Sentinel that watches it, and
// returns the Sentinel's address once it names the primary.
func startSentinel() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	primary, err := startServer(ctx, "primary", "")
	if err != nil {
		return "", err
	}
	dir, err := serverDir()
	if err != nil {
		return "", err
	}
	// Sentinel rewrites its configuration file, so it gets one of its
	// own. The primary is never taken for down: there is no replica to
	// promote.
	conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(primary)+".conf")
	body := fmt.Sprintf("sentinel resolve-hostnames no\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 3600000\n",
		sentinelMaster, primary, sentinelMaster)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", err
	}
	port, err := startServer(ctx, "sentinel", conf, "--sentinel")
	if err != nil {
		return "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := goredis.NewSentinelClient(&goredis.Options{Addr: addr})
	defer s.Close()
	err = poll(ctx, nil, func() bool {
		a, err := s.GetMasterAddrByName(ctx, sentinelMaster).Result()
		return err == nil && len(a) == 2 && a[1] == strconv.Itoa(primary)
	})
	if err != nil {
		return "", fmt.Errorf("%s: waiting for the primary: %w", addr, err)
	}
	return addr, nil
}
