package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestCluster runs the scripts on a three-node Redis Cluster: every key an
// event's scripts touch must be in one slot, passed through KEYS.
func TestCluster(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH: the Redis Cluster test needs it (CI installs it)")
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Skip("redis-cli not on PATH: the Redis Cluster test needs it (CI installs it)")
	}
	addrs := startCluster(t, 3)
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = client.Close() })

	ctx := context.Background()
	// The buyer limits add keys to every script; they must share the slot.
	db := &fakeDB{types: []TicketTypeStock{{ID: "ga", Capacity: 10, Sold: 1, MaxPerBuyer: 6}}, maxPerBuyer: 8}
	db.seated("vip", "s", 4)
	s := New(client, "ticketd:", db)
	// Events of different slots, one of them created by a rebuild on first use.
	for _, ev := range []Event{{"t1", "e1"}, {"t2", "e-2"}, {"t3", "e3"}} {
		if err := s.Hold(ctx, ev, Hold{ID: "h1", ExpiresAt: later(), Items: []Item{{"ga", 3}}, Seats: []string{"s1"}, Buyer: "u1", MaxOpenHolds: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "h2", ExpiresAt: later(), Items: []Item{{"ga", 2}}, Seats: []string{"s2"}, Buyer: "u1", MaxOpenHolds: 2}); err != nil {
			t.Fatal(err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "h3", ExpiresAt: later(), Items: []Item{{"ga", 5}}, Seats: []string{"s1"}}); err == nil {
			t.Fatal("overlapping hold accepted")
		}
		var limit *BuyerLimit
		if err := s.Hold(ctx, ev, Hold{ID: "h4", ExpiresAt: later(), Items: []Item{{"ga", 1}}, Buyer: "u1", MaxOpenHolds: 2}); !errors.As(err, &limit) {
			t.Fatalf("third open hold: err = %v, want *BuyerLimit", err)
		}
		if err := s.Hold(ctx, ev, Hold{ID: "old", ExpiresAt: time.Now().Add(-time.Second), Items: []Item{{"ga", 1}}}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Reclaim(ctx, ev); n != 1 || err != nil {
			t.Fatalf("reclaim = %d, %v", n, err)
		}
		if ok, err := s.Confirm(ctx, ev, "h1"); !ok || err != nil {
			t.Fatalf("confirm = %v, %v", ok, err)
		}
		if ok, err := s.Release(ctx, ev, "h2"); !ok || err != nil {
			t.Fatalf("release = %v, %v", ok, err)
		}
		st, err := s.Availability(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if st["ga"] != (Stock{Capacity: 10, Available: 6, Sold: 4}) || st["vip"] != (Stock{Capacity: 4, Available: 3, Sold: 1}) {
			t.Fatalf("availability = %+v", st)
		}
		seats, _, err := s.SeatStatuses(ctx, ev)
		if err != nil || seats["s1"] != SeatSold || seats["s2"] != SeatAvailable {
			t.Fatalf("seats = %v, %v", seats, err)
		}
		if ids, err := s.Holds(ctx, ev); len(ids) != 0 || err != nil {
			t.Fatalf("holds = %v, %v", ids, err)
		}
		if problems, err := s.Verify(ctx, ev); len(problems) > 0 || err != nil {
			t.Fatalf("verify = %v, %v", problems, err)
		}
		if b, err := s.Buyers(ctx, ev); err != nil || b["t:u1"] != 4 || b["o:u1"] != 0 {
			t.Fatalf("buyers = %v, %v", b, err)
		}
		if err := s.Rebuild(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := s.Drop(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// startCluster starts n cluster-enabled redis-server processes on free
// loopback ports in a temporary directory, joins them into a cluster without
// replicas and returns their addresses once the cluster is ok.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for _, port := range freePorts(t, n) {
		p := strconv.Itoa(port)
		cmd := exec.Command("redis-server", "--port", p, "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addrs = append(addrs, "127.0.0.1:"+p)
	}
	ctx := context.Background()
	nodes := make([]*goredis.Client, n)
	for i, addr := range addrs {
		nodes[i] = goredis.NewClient(&goredis.Options{Addr: addr})
		t.Cleanup(func() { _ = nodes[i].Close() })
		waitFor(t, addr+" up", func() bool { return nodes[i].Ping(ctx).Err() == nil })
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for i, addr := range addrs {
		waitFor(t, addr+" cluster_state:ok", func() bool {
			info, err := nodes[i].ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
	}
	return addrs
}

// freePorts picks n random high ports whose cluster bus ports (port+10000)
// are free as well.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 200 {
			t.Fatal("no free ports")
		}
		p := 20000 + rand.IntN(35000)
		if free(p) && free(p+10000) && !containsInt(ports, p) {
			ports = append(ports, p)
		}
	}
	return ports
}

func free(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func containsInt(list []int, n int) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
