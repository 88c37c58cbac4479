package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

func TestLimiter(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := ratelimit.New(2, 3) // 2/s, bursts of 3
	for i := range 3 {
		if ok, _ := l.Allow("a", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a", t0)
	if ok {
		t.Fatal("4th request in the same instant allowed, want refused")
	}
	if wait != 500*time.Millisecond {
		t.Errorf("wait = %v, want 500ms", wait)
	}
	if ok, _ := l.Allow("b", t0); !ok {
		t.Error("another client refused: buckets must be per client")
	}
	if ok, _ := l.Allow("a", t0.Add(499*time.Millisecond)); ok {
		t.Error("allowed before a token refilled")
	}
	if ok, _ := l.Allow("a", t0.Add(500*time.Millisecond)); !ok {
		t.Error("refused after a token refilled")
	}
	// Long idle: the bucket holds at most the burst.
	later := t0.Add(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a", later); !ok {
			t.Fatalf("after idling, request %d refused", i+1)
		}
	}
	if ok, _ := l.Allow("a", later); ok {
		t.Error("idle time accumulated more than the burst")
	}
}

// TestLimiterForgetsIdleClients checks that once the sweep interval has
// passed, the clients whose buckets have refilled are forgotten. A shard
// sweeps when one of its clients is seen, and which shard a client lands
// in depends on the Limiter's random hash seed, so new clients come until
// every shard has swept: until the Limiter tracks only them.
func TestLimiterForgetsIdleClients(t *testing.T) {
	t0 := time.Unix(0, 0)
	l := ratelimit.New(10, 10)
	for i := range 1000 {
		l.Allow(fmt.Sprintf("early-%d", i), t0)
	}
	if got := l.Len(); got != 1000 {
		t.Fatalf("Len = %d, want 1000", got)
	}
	later := t0.Add(2 * time.Minute)
	// With 16 shards, about 54 clients reach every one on average; 10,000
	// that do not would be a broken sweep, not bad luck.
	const most = 10_000
	late := 0
	for l.Len() > late {
		if late == most {
			t.Fatalf("Len = %d after %d new clients, want only the new ones: idle clients are not forgotten", l.Len(), late)
		}
		l.Allow(fmt.Sprintf("late-%d", late), later)
		late++
	}
	if got := l.Len(); got != late {
		t.Errorf("Len after the sweeps = %d, want the %d new clients", got, late)
	}
}

// TestLimiterGroupsIPv6: an IPv6 client is its prefix (a /64 unless
// WithIPv6Prefix says otherwise), since one host or site commonly holds a
// whole /64; an IPv4 client is its address (issue 19, finding 7).
func TestLimiterGroupsIPv6(t *testing.T) {
	t0 := time.Unix(0, 0)
	tests := map[string]struct {
		opts    []ratelimit.Option
		clients []string
		groups  int // the clients' buckets
	}{
		"12 addresses of one /64":        {nil, ipv6Hosts("2001:db8:1:2::", 12), 1},
		"link-local, zoned":              {nil, []string{"fe80::1%eth0", "fe80::2%eth1", "fe80::3"}, 1},
		"one address of each of 3 /64s":  {nil, []string{"2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:3::1"}, 3},
		"two /64s that share a /63":      {nil, []string{"2001:db8:1:2::1", "2001:db8:1:3::1"}, 2},
		"/48: 3 /64s of it":              {[]ratelimit.Option{ratelimit.WithIPv6Prefix(48)}, []string{"2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:3::1"}, 1},
		"/128: each address":             {[]ratelimit.Option{ratelimit.WithIPv6Prefix(128)}, ipv6Hosts("2001:db8:1:2::", 4), 4},
		"IPv4: each address":             {nil, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}, 4},
		"IPv4 and its IPv6-mapped forms": {nil, []string{"192.0.2.1", "::ffff:192.0.2.1", "::ffff:c000:201"}, 1},
		"IPv4 unaffected by the prefix":  {[]ratelimit.Option{ratelimit.WithIPv6Prefix(1)}, []string{"192.0.2.1", "198.51.100.1", "203.0.113.1"}, 3},
		"not an address: as is":          {nil, []string{"client-a", "client-b", "client-c"}, 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := ratelimit.New(1, 1, tc.opts...) // bursts of 1: one request per bucket at t0
			allowed := 0
			for range 2 {
				for _, c := range tc.clients {
					if ok, _ := l.Allow(c, t0); ok {
						allowed++
					}
				}
			}
			if allowed != tc.groups {
				t.Errorf("%d requests allowed at once from %q, want %d: one per bucket", allowed, tc.clients, tc.groups)
			}
		})
	}
}

// ipv6Hosts returns n addresses of the /64 starting at prefix.
func ipv6Hosts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%x:%x", prefix, (i*7919+1)&0xffff, i)
	}
	return out
}
