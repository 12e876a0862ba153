package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/config"
	"github.com/ticketd-io/ticketd/internal/httpapi"
	"github.com/ticketd-io/ticketd/internal/inventory"
	"github.com/ticketd-io/ticketd/internal/pgtest"
	"github.com/ticketd-io/ticketd/internal/redistest"
	"github.com/ticketd-io/ticketd/internal/telemetry/telemetrytest"
)

// The graceful shutdown: what one instance does on SIGTERM
// (TestServeDrainsBeforeItStops), and what a rolling restart of instances
// behind a load balancer looks like to clients under load
// (TestRollingRestartUnderLoadLosesNoRequest).

// instance is one `ticketd serve` of a test, run by serve as the process
// runs it; signal cancels its context, as SIGTERM does.
type instance struct {
	t       *testing.T
	addr    string
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startInstance runs serve with the stack's configuration, vars on top,
// until the test ends.
func (s *stack) startInstance(vars map[string]string) *instance {
	s.t.Helper()
	m := maps.Clone(s.vars)
	m["BIND_ADDR"] = "127.0.0.1"
	m["DB_MAX_CONNS"] = "4" // several instances share the server's connections
	maps.Copy(m, vars)
	cfg, err := config.Load(env(m))
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.Port = 0
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{t: s.t, cancel: cancel, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() { in.done <- serve(ctx, cfg, io.Discard, listening) }()
	select {
	case in.addr = <-listening:
	case err := <-in.done:
		cancel()
		s.t.Fatalf("serve ended early: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		s.t.Fatal("serve did not listen within 60s")
	}
	s.t.Cleanup(func() {
		if !in.stopped {
			in.signal()
			in.wait()
		}
	})
	return in
}

// signal begins the instance's shutdown, as SIGTERM does.
func (in *instance) signal() { in.cancel() }

// wait waits for serve to return after signal; an error of serve fails the
// test.
func (in *instance) wait() {
	in.t.Helper()
	select {
	case err := <-in.done:
		in.stopped = true
		if err != nil {
			in.t.Errorf("serve %s: %v", in.addr, err)
		}
	case <-time.After(60 * time.Second):
		in.t.Fatalf("serve %s did not stop within 60s of its signal", in.addr)
	}
}

// TestServeDrainsBeforeItStops: on its signal an instance fails /readyz
// while it still accepts connections, then stops accepting, and the request
// in flight all along is answered (on a connection its response closes)
// before serve returns.
func TestServeDrainsBeforeItStops(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl := s.newSale(10)
	token := s.buyer("ada@example.com")
	booking := s.book(token, sl, 1)
	in := s.startInstance(map[string]string{"DRAIN_DELAY": "3s", "SHUTDOWN_TIMEOUT": "1m"})
	base := "http://" + in.addr

	// The payment's start is in flight while Paystack holds its answer.
	held := s.holdPaystack(func(r *http.Request) bool { return r.URL.Path == "/transaction/initialize" })
	type answer struct {
		code   int
		out    map[string]any
		closed bool
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		var a answer
		a.code, a.out, a.closed, a.err = callAPI(&http.Client{}, base, "POST", "/v1/bookings/"+booking+"/payments", token, nil)
		answered <- a
	}()
	s.wait("the payment's start asks Paystack", held.arrived)

	in.signal()
	probes := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	var last string
	s.waitFor("/readyz answers 503 shutting down through the listener", func() bool {
		res, err := probes.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz before it failed: %v (the listener closed first)", err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		last = fmt.Sprintf("%d %s", res.StatusCode, raw)
		return res.StatusCode == 503 && strings.Contains(string(raw), httpapi.ShuttingDown)
	})
	s.waitFor("the listener closes after the drain delay (last /readyz: "+last+")", func() bool {
		c, err := net.Dial("tcp", in.addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case a := <-answered:
		t.Fatalf("the request in flight was answered before Paystack answered it: %+v", a)
	default:
	}

	close(held.release)
	var a answer
	select {
	case a = <-answered:
	case <-time.After(30 * time.Second):
		t.Fatal("the request in flight was not answered within 30s of Paystack's answer")
	}
	if a.err != nil || (a.code != 201 && a.code != 200) || a.out["reference"] == nil {
		t.Fatalf("the request in flight: %d %v %v", a.code, a.out, a.err)
	}
	if !a.closed {
		t.Error("the answer written during the shutdown kept its connection open")
	}
	in.wait()
}

// balancer is the test's load balancer, as an ingress in front of the API's
// pods: it sends each request to the next ready backend in turn, takes a
// backend out of rotation while its /readyz fails (polled, as a readiness
// probe is) or once a connection to it failed, and sends a request again,
// to another backend, as ingress controllers do (nginx's
// proxy_next_upstream error http_503): a request it could not connect for;
// and one that may have reached a backend, which failed or answered 503,
// only when sending it again is safe (GET, or an Idempotency-Key). A POST
// whose connection broke after it was sent reaches the client as a 502: a
// request the shutdown lost.
type balancer struct {
	transport *http.Transport

	mu       sync.Mutex
	backends []*backend
	turn     int
	statuses map[int]int // the backends' answers, by status

	// refused counts the connections that could not be made, broken the
	// requests whose connection failed once they may have been sent, and
	// retried503 the requests sent again after a 503.
	refused, broken, retried503 atomic.Int64
}

type backend struct {
	addr  string
	ready atomic.Bool
	gone  chan struct{}
}

// readinessPeriod is how often the balancer polls a backend's /readyz.
const readinessPeriod = 20 * time.Millisecond

func newBalancer() *balancer {
	return &balancer{transport: &http.Transport{MaxIdleConnsPerHost: 32}, statuses: map[int]int{}}
}

// add puts a backend in the rotation, ready once its /readyz says so.
func (lb *balancer) add(addr string) *backend {
	b := &backend{addr: addr, gone: make(chan struct{})}
	lb.mu.Lock()
	lb.backends = append(lb.backends, b)
	lb.mu.Unlock()
	go func() {
		probes := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
		for {
			res, err := probes.Get("http://" + addr + "/readyz")
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.ready.Store(err == nil && res.StatusCode == 200)
			select {
			case <-b.gone:
				return
			case <-time.After(readinessPeriod):
			}
		}
	}()
	return b
}

// remove takes a backend out of the balancer.
func (lb *balancer) remove(b *backend) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.backends = slices.DeleteFunc(lb.backends, func(x *backend) bool { return x == b })
	close(b.gone)
}

// pick returns the next ready backend, nil when none is.
func (lb *balancer) pick() *backend {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for range lb.backends {
		b := lb.backends[lb.turn%len(lb.backends)]
		lb.turn++
		if b.ready.Load() {
			return b
		}
	}
	return nil
}

// RoundTrip implements http.RoundTripper for the proxy: it sends req to a
// ready backend, and again to another as the balancer's doc says, for up
// to 30 s.
func (lb *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	safe := req.Method == http.MethodGet || req.Header.Get(httpapi.HeaderIdempotencyKey) != ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := lb.pick()
		if b == nil {
			if time.Now().After(deadline) {
				return nil, errors.New("balancer: no backend ready for 30s")
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = "http", b.addr
		out.Body, out.ContentLength = http.NoBody, 0
		if len(body) > 0 {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		res, err := lb.transport.RoundTrip(out)
		if err != nil {
			b.ready.Store(false) // until its /readyz answers again
			var dial *net.OpError
			refused := errors.As(err, &dial) && dial.Op == "dial"
			if refused {
				lb.refused.Add(1)
			} else {
				lb.broken.Add(1)
			}
			if (refused || safe) && time.Now().Before(deadline) {
				continue
			}
			return nil, err
		}
		lb.mu.Lock()
		lb.statuses[res.StatusCode]++
		lb.mu.Unlock()
		if res.StatusCode == http.StatusServiceUnavailable && safe && time.Now().Before(deadline) {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			lb.retried503.Add(1)
			continue
		}
		return res, nil
	}
}

// waitReady waits until the balancer routes to b.
func (lb *balancer) waitReady(t *testing.T, b *backend) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !b.ready.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("backend %s not ready within 60s", b.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRollingRestartUnderLoadLosesNoRequest restarts three API instances
// one after the other, as a Kubernetes rollout does (a new instance ready
// first, then SIGTERM to an old one), behind a load balancer, while buyers
// book, read and cancel bookings all along. Every request is answered, and
// as it should be: no connection error and no 5xx reaches a client (the
// balancer may have sent a request again after a 503 or a connection
// error, as real ones do); and the bookings are what the clients were
// told, in Postgres and in Redis.
func TestRollingRestartUnderLoadLosesNoRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	sl := s.newSale(100_000)
	const buyers = 4
	tokens := make([]string, buyers)
	for i := range tokens {
		tokens[i] = s.buyer(fmt.Sprintf("buyer%d@example.com", i))
	}
	// The drain delay is a hundred times the balancer's readiness period,
	// so it takes a draining instance out of rotation before its listener
	// closes even on a busy machine, as a production DRAIN_DELAY must
	// exceed the time the load balancers take to notice.
	vars := map[string]string{"DRAIN_DELAY": "2s"}

	lb := newBalancer()
	front := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "backend" },
		Transport: lb,
	})
	t.Cleanup(front.Close)
	type running struct {
		in *instance
		b  *backend
	}
	start := func() running {
		in := s.startInstance(vars)
		b := lb.add(in.addr)
		lb.waitReady(t, b)
		return running{in, b}
	}
	var fleet []running
	for range 3 {
		fleet = append(fleet, start())
	}

	// The load: each buyer books a ticket (with an Idempotency-Key, as a
	// client that retries must), reads the booking back, and cancels one
	// booking in three, until stop.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		answered atomic.Int64
		mu       sync.Mutex
		failures []string
		booked   = map[string]string{} // Idempotency-Key → booking id
		canceled = map[string]bool{}
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: buyers}, Timeout: time.Minute}
	expect := func(what string, want, code int, out map[string]any, err error) bool {
		answered.Add(1)
		if err == nil && code == want {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("%s: %d %v %v", what, code, out, err))
		return false
	}
	item := map[string]any{"eventId": sl.eventID, "items": []any{map[string]any{"ticketTypeId": sl.typeID, "quantity": 1}}}
	for w, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("rolling-%d-%d", w, i)
				code, out, _, err := callAPI(client, front.URL, "POST", "/v1/bookings", token, item, httpapi.HeaderIdempotencyKey, key)
				if !expect("book "+key, 201, code, out, err) {
					continue
				}
				id, _ := out["id"].(string)
				mu.Lock()
				booked[key] = id
				mu.Unlock()
				code, out, _, err = callAPI(client, front.URL, "GET", "/v1/bookings/"+id, token, nil)
				expect("read "+id, 200, code, out, err)
				if i%3 == 0 {
					code, out, _, err = callAPI(client, front.URL, "POST", "/v1/bookings/"+id+"/cancel", token, nil)
					if expect("cancel "+id, 200, code, out, err) {
						mu.Lock()
						canceled[id] = true
						mu.Unlock()
					}
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(stopLoad)
	// progress waits until the clients have had n more answers, so that
	// each step of the restart happens under load.
	progress := func(n int64) {
		t.Helper()
		from := answered.Load()
		s.waitLonger(60*time.Second, fmt.Sprintf("%d more answers under load", n), func() bool { return answered.Load() >= from+n })
	}

	for i := range fleet {
		progress(30)
		next := start()
		old := fleet[i]
		old.in.signal()
		old.in.wait()
		lb.remove(old.b)
		fleet[i] = next
	}
	progress(30)
	stopLoad()

	lb.mu.Lock()
	statuses := maps.Clone(lb.statuses)
	lb.mu.Unlock()
	t.Logf("%d answers; the backends answered %v; the balancer could not connect %d times, and sent %d requests again after a 503",
		answered.Load(), statuses, lb.refused.Load(), lb.retried503.Load())
	// A connection that broke under a request sent means that an instance
	// closed it without answering: the balancer sent the request again if
	// it could, which a real one would not always do.
	if n := lb.broken.Load(); n > 0 {
		t.Errorf("%d requests lost their connection once sent", n)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests were not answered as they should have been, e.g.:\n%s",
			len(failures), answered.Load(), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	for status, n := range statuses {
		if status >= 500 && status != http.StatusServiceUnavailable {
			t.Errorf("the backends answered %d requests with %d", n, status)
		}
	}

	// One booking per key, pending unless its buyer cancelled it, and
	// Redis holds exactly the pending ones.
	ids := map[string]bool{}
	for _, id := range booked {
		ids[id] = true
	}
	if len(ids) != len(booked) {
		t.Errorf("%d keys booked %d distinct bookings", len(booked), len(ids))
	}
	if n := s.count("SELECT count(*) FROM bookings WHERE event_id = $1", sl.eventID); n != len(booked) {
		t.Errorf("%d bookings in Postgres, the clients were told of %d", n, len(booked))
	}
	if n := s.count("SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'cancelled'", sl.eventID); n != len(canceled) {
		t.Errorf("%d bookings cancelled in Postgres, the clients cancelled %d", n, len(canceled))
	}
	if n := s.count("SELECT count(*) FROM bookings WHERE event_id = $1 AND status = 'pending'", sl.eventID); n != len(booked)-len(canceled) {
		t.Errorf("%d bookings pending in Postgres, want %d", n, len(booked)-len(canceled))
	}
	var out bytes.Buffer
	if err := s.app.checkInventory(context.Background(), inventory.Event{TenantID: s.tenant.ID, EventID: sl.eventID}, &out); err != nil {
		t.Errorf("inventory: %v\n%s", err, out.String())
	}
}

// TestMain runs the test binary as ticketd itself when TICKETD_TEST_MAIN
// holds the arguments, for TestSecondSignalStopsAtOnce, which sends it
// real signals.
func TestMain(m *testing.M) {
	if args := os.Getenv("TICKETD_TEST_MAIN"); args != "" {
		os.Args = append([]string{"ticketd"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	redistest.Main(m) // runs the tests, then stops the Redis servers they started
}

// TestSecondSignalStopsAtOnce: the process begins draining on SIGTERM, and
// a second SIGTERM ends it without waiting out the drain delay.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	addr := freeAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TICKETD_TEST_MAIN=serve",
		"DATABASE_URL="+db.AppURL, "REDIS_URL="+redistest.URL(), "PLATFORM_API_KEY=test-platform-key-0123456789",
		"JWT_SECRET="+testJWTSecret, "TICKET_SIGNING_SECRET="+testJWTSecret, "WAITING_ROOM_SECRET="+testJWTSecret,
		"BIND_ADDR=127.0.0.1", "PORT="+port, "DRAIN_DELAY=5m", "LOG_LEVEL=info")
	var out telemetrytest.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ended := false // exited was received from
	t.Cleanup(func() {
		if !ended {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	probes := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	readyz := func() (int, string) {
		res, err := probes.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw)
	}
	eventually(t, "the process is ready", func() (bool, string) {
		select {
		case err := <-exited:
			ended = true
			t.Fatalf("the process ended early: %v\n%s", err, out.String())
		default:
		}
		status, body := readyz()
		return status == 200, body
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "/readyz answers 503 shutting down", func() (bool, string) {
		status, body := readyz()
		return status == 503 && strings.Contains(body, httpapi.ShuttingDown), body
	})
	// The second signal ends the process, well within the drain delay. It
	// is sent again until it does: one that came before the first had
	// been handled in full would count as the first.
	deadline := time.Now().Add(60 * time.Second)
	var err error
wait:
	for {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		select {
		case err = <-exited:
			ended = true
			break wait
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process still runs 60s after a second SIGTERM, within its drain delay:\n%s", out.String())
		}
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("the process ended with %v, want killed by the second SIGTERM", err)
	}
	if !strings.Contains(out.String(), `"msg":"draining`) {
		t.Errorf("the log lacks the drain:\n%s", out.String())
	}
}
