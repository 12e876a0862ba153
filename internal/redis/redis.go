// Package redis connects ticketd to Redis through go-redis. Later packages
// keep their Lua scripts and key layouts next to the code that uses them;
// this one owns the client and its key prefix.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ticketd-io/ticketd/internal/redact"
)

// Client is a go-redis client with the key prefix every key of this process
// starts with. The prefix lets several deployments, or several tests, share
// one Redis without touching each other's keys.
type Client struct {
	*goredis.Client
	// Prefix starts every key the application writes.
	Prefix string
}

// Open connects to url and checks that Redis answers.
func Open(ctx context.Context, rawURL, prefix string) (*Client, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	// Every request of an on-sale makes a Redis round trip or two, from
	// hundreds of concurrent requests: a pool of the default size (ten per
	// CPU) makes them queue for a connection.
	if opts.PoolSize == 0 {
		opts.PoolSize = 64
	}
	if opts.MinIdleConns == 0 {
		opts.MinIdleConns = 16
	}
	c := &Client{Client: goredis.NewClient(opts), Prefix: prefix}
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
	return c.Client.Ping(ctx).Err()
}

// Key returns the application key for name.
func (c *Client) Key(name string) string { return c.Prefix + name }
