package redis

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, o *Options)
	}{
		{"standalone", "redis://:pw-1@cache:6380/3?dial_timeout=2s", func(t *testing.T, o *Options) {
			if o.Single.Addr != "cache:6380" || o.Single.DB != 3 || o.Single.Password != "pw-1" || o.Single.DialTimeout != 2*time.Second || o.Single.TLSConfig != nil {
				t.Fatalf("%+v", o.Single)
			}
		}},
		{"standaloneTLS", "rediss://cache", func(t *testing.T, o *Options) {
			if o.Single.Addr != "cache:6379" || o.Single.TLSConfig == nil {
				t.Fatalf("%+v", o.Single)
			}
		}},
		{"cluster", "redis+cluster://app:pw-1@a:7000,b:7001,c:7002/?pool_size=10&read_timeout=1s", func(t *testing.T, o *Options) {
			c := o.Cluster
			if !slices.Equal(c.Addrs, []string{"a:7000", "b:7001", "c:7002"}) || c.Username != "app" || c.Password != "pw-1" ||
				c.PoolSize != 10 || c.ReadTimeout != time.Second || c.TLSConfig != nil {
				t.Fatalf("%+v", c)
			}
		}},
		{"clusterOneSeed", "redis+cluster://a:7000", func(t *testing.T, o *Options) {
			if !slices.Equal(o.Cluster.Addrs, []string{"a:7000"}) {
				t.Fatalf("%v", o.Cluster.Addrs)
			}
		}},
		{"clusterTLSChecksEachNodeByItsAddress", "rediss+cluster://a:7000,b:7001", func(t *testing.T, o *Options) {
			if o.Cluster.TLSConfig == nil || o.Cluster.TLSConfig.ServerName != "" || o.Cluster.TLSConfig.InsecureSkipVerify {
				t.Fatalf("%+v", o.Cluster.TLSConfig)
			}
		}},
		{"sentinel", "redis+sentinel://app:pw-1@s1:26379,s2:26380/2?master=mymaster&dial_timeout=3s", func(t *testing.T, o *Options) {
			f := o.Failover
			if f.MasterName != "mymaster" || !slices.Equal(f.SentinelAddrs, []string{"s1:26379", "s2:26380"}) || f.DB != 2 ||
				f.Username != "app" || f.Password != "pw-1" || f.SentinelUsername != "" || f.SentinelPassword != "" || f.DialTimeout != 3*time.Second {
				t.Fatalf("%+v", f)
			}
		}},
		{"sentinelWithItsOwnPassword", "rediss+sentinel://:pw-1@s1:26379/?master=m&sentinel_password=pw-2&skip_verify=true", func(t *testing.T, o *Options) {
			f := o.Failover
			if f.Password != "pw-1" || f.SentinelPassword != "pw-2" || f.DB != 0 || f.TLSConfig == nil || f.TLSConfig.ServerName != "" || !f.TLSConfig.InsecureSkipVerify ||
				!slices.Equal(f.SentinelAddrs, []string{"s1:26379"}) {
				t.Fatalf("%+v", f)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	for _, tc := range []struct{ name, url, want string }{
		{"otherScheme", "http://:pw-1@cache", "scheme must be"},
		{"unknownTopology", "redis+ring://:pw-1@a:1,b:2", `unknown topology "ring"`},
		{"noHost", "redis+cluster://", "no host"},
		{"severalHostsStandalone", "redis://:pw-1@a:1,b:2/0", "redis+cluster://"},
		{"badPort", "redis+cluster://:pw-1@a:x,b:1", `host "a:x" is not host:port`},
		{"badLastPort", "redis+cluster://:pw-1@a:1,b:x", `invalid port ":x"`},
		{"noPort", "redis+sentinel://:pw-1@a,b:1/?master=m", `host "a" is not host:port`},
		{"portOutOfRange", "redis+sentinel://:pw-1@a:99999/?master=m", "is not host:port"},
		{"emptyHost", "redis+cluster://:pw-1@a:1,,b:2", "empty host"},
		{"clusterDatabase", "redis+cluster://:pw-1@a:1/3", "only database 0"},
		{"clusterAddrOption", "redis+cluster://:pw-1@a:1?addr=b:2", "host part"},
		{"clusterUnknownOption", "redis+cluster://:pw-1@a:1?colour=red", "unexpected option: colour"},
		{"sentinelNoMaster", "redis+sentinel://:pw-1@a:1/0", "?master=name"},
		{"sentinelBadDB", "redis+sentinel://:pw-1@a:1/x?master=m", "database number"},
		{"sentinelPasswordOption", "redis+sentinel://a:1/?master=m&password=pw-1", "option password"},
		{"badPercentEscape", "redis://:pw-1@a:1/%zz", "not a valid URL"},
		{"badPortInURL", "redis://:pw-1@a:port/0", "not a valid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one that says %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pw-1") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestParsedURLMakesTheTopologysClient(t *testing.T) {
	for url, want := range map[string]string{
		"redis://a:1/0":                      "a:1",
		"redis+cluster://a:1,b:2":            "cluster",
		"redis+sentinel://a:1,b:2/?master=m": "FailoverClient", // go-redis's name for a sentinel-watched primary
	} {
		o, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := o.newClient()
		got := "cluster"
		if single, ok := c.(*goredis.Client); ok {
			got = single.Options().Addr
		} else if _, ok := c.(*goredis.ClusterClient); !ok {
			got = fmt.Sprintf("%T", c)
		}
		if got != want {
			t.Errorf("%s: client %s, want %s", url, got, want)
		}
		_ = c.Close()
	}
	// The pool defaults apply where the URL sets none; on a cluster, per node.
	o, _ := ParseURL("redis+cluster://a:1?pool_size=8")
	_ = o.newClient().Close()
	if o.Cluster.PoolSize != 8 || o.Cluster.MinIdleConns != defaultMinIdleConns {
		t.Errorf("pool %d, min idle %d", o.Cluster.PoolSize, o.Cluster.MinIdleConns)
	}
	o, _ = ParseURL("redis+sentinel://a:1/?master=m")
	_ = o.newClient().Close()
	if o.Failover.PoolSize != defaultPoolSize || o.Failover.MinIdleConns != defaultMinIdleConns {
		t.Errorf("sentinel pool %d, min idle %d", o.Failover.PoolSize, o.Failover.MinIdleConns)
	}
}
