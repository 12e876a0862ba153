// Package redis connects ticketd to Redis through go-redis. Later packages
// keep their Lua scripts and key layouts next to the code that uses them;
// this one owns the client and its key prefix.
package redis

import (
	"context"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/redact"
)

// Client is a go-redis client with the key prefix every key of this process
// starts with. The prefix lets several deployments, or several tests, share
// one Redis without touching each other's keys.
//
// The client is a single server's, a Redis Cluster's or a Sentinel-watched
// primary's, after the URL (ParseURL). Every script and transaction keeps
// its keys in one hash slot, under one hash tag, so each runs on a cluster
// as on one server.
type Client struct {
	goredis.UniversalClient
	// Prefix starts every key the application writes.
	Prefix string
	// Topology is the URL's.
	Topology Topology
}

// Open connects to url (see ParseURL) and checks that Redis answers.
func Open(ctx context.Context, rawURL, prefix string) (*Client, error) {
	opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	if strings.ContainsAny(prefix, "{}") {
		// A brace in the prefix would be the hash tag of every key.
		return nil, fmt.Errorf("redis: key prefix %q has a brace", prefix)
	}
	c := &Client{UniversalClient: opts.newClient(), Prefix: prefix, Topology: opts.Topology}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ready(pingCtx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", redact.URL(rawURL), err)
	}
	return c, nil
}

// Ready checks that Redis answers; it backs the readiness probe.
func (c *Client) Ready(ctx context.Context) error {
	return c.UniversalClient.Ping(ctx).Err()
}

// ScanKeys calls fn with every key that matches the SCAN pattern match,
// on every primary of a cluster, where each holds only its own slots' keys.
// It is for tools and tests: a SCAN walks the whole keyspace.
func (c *Client) ScanKeys(ctx context.Context, match string, fn func(ctx context.Context, key string) error) error {
	scan := func(ctx context.Context, node goredis.Cmdable) error {
		iter := node.Scan(ctx, 0, match, 500).Iterator()
		for iter.Next(ctx) {
			if err := fn(ctx, iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := c.UniversalClient.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return scan(ctx, node) })
	}
	return scan(ctx, c.UniversalClient)
}

// Key returns the application key for name.
func (c *Client) Key(name string) string { return c.Prefix + name }
