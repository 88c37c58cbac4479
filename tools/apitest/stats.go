package apitest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// statsJSON is the body of GET /counters/{name}/stats.
type statsJSON struct {
	Name   string `json:"name"`
	Period string `json:"period"`
	Points []struct {
		Start   time.Time `json:"start"`
		Hits    int64     `json:"hits"`
		Uniques int64     `json:"uniques"`
		Bots    int64     `json:"bots"`
	} `json:"points"`
}

// statsLag bounds how long the suite waits for increments to show in the
// statistics: at once on the memory store, within seconds on DynamoDB.
const statsLag = 30 * time.Second

// stats fetches the statistics of a counter that must exist.
func (s *suite) stats(t *testing.T, name, query string) statsJSON {
	t.Helper()
	r := s.do(t, request{method: http.MethodGet, target: "/counters/" + name + "/stats" + query})
	if r.status != http.StatusOK {
		t.Fatalf("GET /counters/%s/stats%s: got %v, want 200", name, query, r)
	}
	var st statsJSON
	decode(t, r, &st)
	return st
}

func (st statsJSON) total() int64 {
	var n int64
	for _, p := range st.Points {
		n += p.Hits
	}
	return n
}

func (s *suite) testStats(t *testing.T) {
	name := s.name("stats")
	s.create(t, name, 10) // a create is not a hit
	// Hits: the open increment's and the admin route's, by any amount.
	for _, req := range []request{
		{method: http.MethodPost, target: "/counters/" + name + "/increment"},
		adjust(name, 2), adjust(name, 5), adjust(name, -1),
	} {
		if r := s.do(t, req); r.status != http.StatusOK {
			t.Fatalf("%s %s %s: got %v", req.method, req.target, req.body, r)
		}
	}
	if r := s.do(t, jsonBody(http.MethodPut, "/counters/"+name, `{"count":100}`)); r.status != http.StatusOK {
		t.Fatalf("PUT: got %v", r) // nor is a set
	}
	// The hits follow: at once on the memory store, within seconds through
	// DynamoDB's stream.
	deadline := time.Now().Add(statsLag)
	var st statsJSON
	for {
		st = s.stats(t, name, "?period=hour")
		if st.total() == 7 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // over HTTP there is nothing to await
	}
	if st.total() != 7 {
		t.Fatalf("hits of the last 48 hours = %d after %v, want 7", st.total(), statsLag)
	}
	now := time.Now().UTC()
	periods := map[string]struct {
		query  string
		period string
		points int
		width  time.Duration
	}{
		"default":         {"", "day", 30, 24 * time.Hour},
		"days":            {"?period=day", "day", 30, 24 * time.Hour},
		"hours":           {"?period=hour", "hour", 48, time.Hour},
		"a date range":    {"?period=day&from=2026-01-01&to=2026-01-31", "day", 31, 24 * time.Hour},
		"hours of a date": {"?period=hour&from=2026-03-01&to=2026-03-01", "hour", 24, time.Hour},
		"times":           {"?period=hour&from=2026-03-01T10:30:00Z&to=2026-03-01T12:00:00%2B01:00", "hour", 2, time.Hour},
	}
	for test, tc := range periods {
		t.Run(test, func(t *testing.T) {
			st := s.stats(t, name, tc.query)
			if st.Name != name || st.Period != tc.period || len(st.Points) != tc.points {
				t.Fatalf("got %s %s with %d points, want %s %s with %d", st.Name, st.Period, len(st.Points), name, tc.period, tc.points)
			}
			for i, p := range st.Points {
				if i > 0 && !p.Start.Equal(st.Points[i-1].Start.Add(tc.width)) {
					t.Fatalf("point %d starts at %v, %v after the one before, want %v", i, p.Start, p.Start.Sub(st.Points[i-1].Start), tc.width)
				}
				if !p.Start.Equal(p.Start.Truncate(tc.width)) || p.Start.Location() != time.UTC {
					t.Fatalf("point %d starts at %v, not at a UTC %s", i, p.Start, tc.period)
				}
			}
			if tc.query == "?period=hour" || tc.query == "" {
				// The last point is the current bucket (give or take a
				// bucket that began during the request).
				last := st.Points[len(st.Points)-1].Start
				if age := now.Sub(last); age < -time.Minute || age > tc.width+time.Minute {
					t.Errorf("last point starts at %v, want the bucket of %v", last, now)
				}
			}
		})
	}
	t.Run("a crawler, and the visitor", func(t *testing.T) {
		if !s.opts.Visitors {
			t.Skip("the target does not count visitors (Options.Visitors)")
		}
		// A crawler's increment (BOT_FILTER, on by default) is answered the
		// count, adds no hit, and shows in bots; the one open increment above
		// came from one visitor (the admin route's carry none).
		r := s.do(t, request{method: http.MethodPost, target: "/counters/" + name + "/increment",
			header: http.Header{"User-Agent": {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}}})
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"count":100`) {
			t.Fatalf("a crawler's increment: got %v, want 200 and the count, 100", r)
		}
		var hits, uniques, bots int64
		for deadline := time.Now().Add(statsLag); ; time.Sleep(100 * time.Millisecond) {
			hits, uniques, bots = 0, 0, 0
			for _, p := range s.stats(t, name, "?period=day").Points {
				hits, uniques, bots = hits+p.Hits, uniques+p.Uniques, bots+p.Bots
			}
			if bots == 1 || time.Now().After(deadline) {
				break
			}
		}
		if hits != 7 || uniques != 1 || bots != 1 {
			t.Errorf("after a crawler: hits %d, uniques %d, bots %d; want 7, 1, 1", hits, uniques, bots)
		}
	})
	t.Run("the whole day", func(t *testing.T) {
		today := now.Format("2006-01-02")
		if got := s.stats(t, name, "?period=hour&from="+today+"&to="+today).total(); got != 7 && now.Hour() != 0 {
			t.Errorf("hits today = %d, want 7", got)
		}
	})

	invalid := map[string]string{
		"unknown period":    "?period=week",
		"empty period":      "?period=",
		"malformed from":    "?from=yesterday",
		"malformed to":      "?to=2026-13-01",
		"time without zone": "?from=2026-11-27T05:00:00",
		"from after to":     "?from=2026-11-27&to=2026-11-26",
		"1001 days":         "?period=day&from=2024-01-01&to=2026-09-27",
		"1001 hours":        "?period=hour&from=2026-01-01T00:00:00Z&to=2026-02-11T16:00:00Z",
		// Go's zero time, given: never taken for "not given".
		"to in year 1":   "?period=hour&to=0001-01-01T00:00:00Z",
		"from in year 1": "?from=0001-01-01&to=0001-01-02",
		"before 1970":    "?period=day&to=1969-12-31",
	}
	for test, query := range invalid {
		t.Run(test, func(t *testing.T) {
			s.expectError(t, request{method: http.MethodGet, target: "/counters/" + name + "/stats" + query}, http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("1000 hours", func(t *testing.T) {
		st := s.stats(t, name, "?period=hour&from=2026-01-01T00:00:00Z&to=2026-02-11T15:00:00Z")
		if len(st.Points) != 1000 {
			t.Errorf("got %d points, want 1000", len(st.Points))
		}
	})
	t.Run("missing counter", func(t *testing.T) {
		s.expectError(t, request{method: http.MethodGet, target: "/counters/" + s.prefix + "stats-missing/stats"}, http.StatusNotFound, "not_found")
	})
	t.Run("invalid name", func(t *testing.T) {
		s.expectError(t, request{method: http.MethodGet, target: "/counters/.x/stats"}, http.StatusBadRequest, "invalid_name")
	})
	t.Run("deleted and created again", func(t *testing.T) {
		again := s.name("stats-again")
		s.create(t, again, 0)
		s.do(t, request{method: http.MethodPost, target: "/counters/" + again + "/increment"})
		if r := s.do(t, request{method: http.MethodDelete, target: "/counters/" + again}); r.status != http.StatusNoContent {
			t.Fatalf("DELETE: got %v", r)
		}
		s.create(t, again, 0)
		if got := s.stats(t, again, "?period=hour").total(); got != 0 {
			t.Errorf("hits after delete and create = %d, want 0", got)
		}
	})
}
