package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Topology is how ticketd reaches Redis.
type Topology int

// The topologies a REDIS_URL names by its scheme.
const (
	// Standalone is one Redis server (redis://, rediss://).
	Standalone Topology = iota
	// Cluster is a Redis Cluster reached through any of its nodes
	// (redis+cluster://, rediss+cluster://).
	Cluster
	// Sentinel is a primary found through Redis Sentinel, which follows
	// it across failovers (redis+sentinel://, rediss+sentinel://).
	Sentinel
)

func (t Topology) String() string {
	switch t {
	case Cluster:
		return "cluster"
	case Sentinel:
		return "sentinel"
	default:
		return "standalone"
	}
}

// Options is a parsed Redis URL: its topology and go-redis's options for
// it. Exactly one of Single, Cluster and Failover is set.
type Options struct {
	Topology Topology
	Single   *goredis.Options
	Cluster  *goredis.ClusterOptions
	Failover *goredis.FailoverOptions
}

// ParseURL parses a Redis URL of one of these forms:
//
//	redis://[user:password@]host:port[/db][?option=value...]
//	redis+cluster://[user:password@]host:port[,host:port...][/][?option=value...]
//	redis+sentinel://[user:password@]host:port[,host:port...][/db]?master=name[&option=value...]
//
// and their TLS variants rediss://, rediss+cluster:// and rediss+sentinel://.
// The options are go-redis's (dial_timeout, pool_size, ...). A cluster's
// hosts are seed nodes, from which the client learns the rest; it has only
// database 0. A sentinel URL's hosts are the sentinels, its user and
// password are the primary's (and its replicas'), and the sentinels' own
// are the options sentinel_username and sentinel_password, when they have
// any.
//
// Errors never quote the URL, which may hold a password.
func ParseURL(raw string) (*Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL; its cause does not.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("not a valid URL: %w", err)
	}
	base, topology, ok := strings.Cut(u.Scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, errors.New("the scheme must be redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or rediss+sentinel")
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	if u.Opaque != "" || u.Fragment != "" {
		return nil, errors.New("not a valid URL")
	}
	switch {
	case !ok:
		if strings.Contains(u.Host, ",") {
			return nil, fmt.Errorf("several hosts need %s+cluster:// or %s+sentinel://", base, base)
		}
		o, err := goredis.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		return &Options{Topology: Standalone, Single: o}, nil
	case topology == "cluster":
		return parseCluster(u, base)
	case topology == "sentinel":
		return parseSentinel(u, base)
	default:
		return nil, fmt.Errorf("unknown topology %q: use %s+cluster:// or %s+sentinel://", topology, base, base)
	}
}

// hosts splits the comma-separated host:port list of u. Every host needs
// its port: a sentinel's default port is not a Redis server's.
func hosts(u *url.URL) ([]string, error) {
	var addrs []string
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return nil, errors.New("an empty host in the host list")
		}
		host, port, err := net.SplitHostPort(h)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("host %q is not host:port", h)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	return addrs, nil
}

// goredisURL is a URL as go-redis's single-host parsers take it: scheme
// redis or rediss, the first address as host and the others as addr
// options.
func goredisURL(scheme string, user *url.Userinfo, addrs []string, q url.Values) string {
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	g := url.URL{Scheme: scheme, User: user, Host: addrs[0], RawQuery: q.Encode()}
	return g.String()
}

// perAddressTLS makes c check each server's certificate against the
// address it is dialed at (tls.Dial's default), not against the first
// host's name, which go-redis puts there: a cluster's nodes and a
// sentinel's primary have names of their own.
func perAddressTLS(c *tls.Config) {
	if c != nil {
		c.ServerName = ""
		c.MinVersion = tls.VersionTLS12
	}
}

func parseCluster(u *url.URL, scheme string) (*Options, error) {
	addrs, err := hosts(u)
	if err != nil {
		return nil, err
	}
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return nil, errors.New("a Redis Cluster has only database 0: leave the path empty")
	}
	q := u.Query()
	if q.Has("addr") {
		return nil, errors.New("list every node in the host part, not as addr options")
	}
	o, err := goredis.ParseClusterURL(goredisURL(scheme, u.User, addrs, q))
	if err != nil {
		return nil, err
	}
	perAddressTLS(o.TLSConfig)
	return &Options{Topology: Cluster, Cluster: o}, nil
}

func parseSentinel(u *url.URL, scheme string) (*Options, error) {
	addrs, err := hosts(u)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	for _, k := range []string{"addr", "master_name", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("option %s is not accepted: list the sentinels in the host part, name the primary with master and give its credentials in the user info", k)
		}
	}
	master := q.Get("master")
	if master == "" {
		return nil, errors.New("a sentinel URL needs the primary's name: ?master=name")
	}
	q.Del("master")
	q.Set("master_name", master)
	// go-redis reads the sentinels' credentials from the user info and the
	// primary's from options; ticketd's URL has it the other way round, so
	// that the user info means the same Redis user in every form.
	sentinelUser := url.User(q.Get("sentinel_username"))
	if p, ok := q["sentinel_password"]; ok {
		sentinelUser = url.UserPassword(q.Get("sentinel_username"), p[len(p)-1])
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	if u.User != nil {
		q.Set("username", u.User.Username())
		if p, ok := u.User.Password(); ok {
			q.Set("password", p)
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 || strings.Contains(db, "/") {
			return nil, errors.New("the path must be a database number")
		}
		q.Set("db", db)
	}
	if sentinelUser.String() == "" {
		sentinelUser = nil
	}
	o, err := goredis.ParseFailoverURL(goredisURL(scheme, sentinelUser, addrs, q))
	if err != nil {
		return nil, err
	}
	perAddressTLS(o.TLSConfig)
	return &Options{Topology: Sentinel, Failover: o}, nil
}

// Every request of an on-sale makes a Redis round trip or two, from
// hundreds of concurrent requests: a pool of the default size (ten per CPU)
// makes them queue for a connection. On a cluster the pool is per node.
const (
	defaultPoolSize     = 64
	defaultMinIdleConns = 16
)

// newClient returns the go-redis client of the topology, with ticketd's
// pool defaults where the URL sets none.
func (o *Options) newClient() goredis.UniversalClient {
	pool := func(size, idle *int) {
		if *size == 0 {
			*size = defaultPoolSize
		}
		if *idle == 0 {
			*idle = defaultMinIdleConns
		}
	}
	switch o.Topology {
	case Cluster:
		pool(&o.Cluster.PoolSize, &o.Cluster.MinIdleConns)
		return goredis.NewClusterClient(o.Cluster)
	case Sentinel:
		pool(&o.Failover.PoolSize, &o.Failover.MinIdleConns)
		return goredis.NewFailoverClient(o.Failover)
	default:
		pool(&o.Single.PoolSize, &o.Single.MinIdleConns)
		return goredis.NewClient(o.Single)
	}
}
