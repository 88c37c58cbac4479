package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// TestStatsQuery checks how GET /counters/{name}/stats reads its query,
// on a memory store with a fixed clock: hits at 05:10 (2) and 06:59 (3) on
// 2026-11-27, and 23:00 (4) the day before; now is 2026-11-27T07:30Z.
func TestStatsQuery(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)
	clock := countertest.NewClock(now.Add(-48 * time.Hour))
	store := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	if _, err := store.Apply(ctx, counter.Create("home", 0)); err != nil {
		t.Fatal(err)
	}
	for _, hit := range []struct {
		at time.Time
		by int64
	}{{now.Add(-8*time.Hour - 30*time.Minute), 4}, {now.Add(-2*time.Hour - 20*time.Minute), 2}, {now.Add(-31 * time.Minute), 3}} {
		clock.Set(hit.at)
		if _, err := store.Apply(ctx, counter.Increment("home", hit.by)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(now)
	h := newHandler(t, store, httpapi.Options{})

	type point struct {
		Start string `json:"start"`
		Hits  int64  `json:"hits"`
	}
	tests := map[string]struct {
		query      string
		wantStatus int
		wantPeriod string
		wantPoints int
		wantFirst  string
		wantHits   map[string]int64 // non-zero points
	}{
		"default: 30 days to today": {"", 200, "day", 30, "2026-10-29T00:00:00Z",
			map[string]int64{"2026-11-26T00:00:00Z": 4, "2026-11-27T00:00:00Z": 5}},
		"48 hours to this hour": {"?period=hour", 200, "hour", 48, "2026-11-25T08:00:00Z",
			map[string]int64{"2026-11-26T23:00:00Z": 4, "2026-11-27T05:00:00Z": 2, "2026-11-27T06:00:00Z": 3}},
		"the hours of a date": {"?period=hour&from=2026-11-27&to=2026-11-27", 200, "hour", 24, "2026-11-27T00:00:00Z",
			map[string]int64{"2026-11-27T05:00:00Z": 2, "2026-11-27T06:00:00Z": 3}},
		"times in other zones": {"?period=hour&from=2026-11-27T06:10:00%2B01:00&to=2026-11-27T01:59:59-05:00", 200, "hour", 2, "2026-11-27T05:00:00Z",
			map[string]int64{"2026-11-27T05:00:00Z": 2, "2026-11-27T06:00:00Z": 3}},
		"only from": {"?from=2026-11-26", 200, "day", 2, "2026-11-26T00:00:00Z",
			map[string]int64{"2026-11-26T00:00:00Z": 4, "2026-11-27T00:00:00Z": 5}},
		"only to: 30 days before it": {"?to=2026-11-26", 200, "day", 30, "2026-10-28T00:00:00Z",
			map[string]int64{"2026-11-26T00:00:00Z": 4}},
		"the future is zeros": {"?period=day&from=2026-12-01&to=2026-12-02", 200, "day", 2, "2026-12-01T00:00:00Z", nil},
		"unknown period":      {"?period=minute", 400, "", 0, "", nil},
		"upper case period":   {"?period=DAY", 400, "", 0, "", nil},
		"bad escape":          {"?from=%zz", 400, "", 0, "", nil},
		"date and time":       {"?from=2026-11-27%2005:00", 400, "", 0, "", nil},
		"number":              {"?from=1795755600", 400, "", 0, "", nil},
		"empty to":            {"?to=", 400, "", 0, "", nil},
		"from after to":       {"?period=hour&from=2026-11-27T06:00:00Z&to=2026-11-27T05:59:59Z", 400, "", 0, "", nil},
		"1001 days":           {"?from=2024-02-01&to=2026-10-28", 400, "", 0, "", nil},
		// Go's zero time is 0001-01-01T00:00:00Z: given explicitly it was
		// taken for "not given" (issue 19, finding 4). Times before 1970
		// are refused.
		"to: year 1, midnight": {"?period=hour&to=0001-01-01T00:00:00Z", 400, "", 0, "", nil},
		"to: year 1, date":     {"?period=hour&to=0001-01-01", 400, "", 0, "", nil},
		"from: year 1":         {"?period=hour&from=0001-01-01T00:00:00Z&to=0001-01-01T05:00:00Z", 400, "", 0, "", nil},
		"from: year 1, alone":  {"?from=0001-01-01", 400, "", 0, "", nil},
		"to: before 1970":      {"?to=1969-12-31", 400, "", 0, "", nil},
		"from: a second early": {"?period=hour&from=1969-12-31T23:59:59Z&to=1970-01-01T01:00:00Z", 400, "", 0, "", nil},
		"from 1970":            {"?period=day&from=1970-01-01&to=1970-01-02", 200, "day", 2, "1970-01-01T00:00:00Z", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := serve(t, h, http.MethodGet, "/counters/home/stats"+tc.query, "")
			if res.status != tc.wantStatus {
				t.Fatalf("got %d %s, want %d", res.status, res.body, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusOK {
				wantError(t, res, tc.wantStatus, "invalid_request")
				return
			}
			var body struct {
				Name   string  `json:"name"`
				Period string  `json:"period"`
				Points []point `json:"points"`
			}
			if err := json.Unmarshal(res.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Name != "home" || body.Period != tc.wantPeriod || len(body.Points) != tc.wantPoints || body.Points[0].Start != tc.wantFirst {
				t.Fatalf("got %s %s, %d points from %s; want home %s, %d from %s", body.Name, body.Period, len(body.Points), body.Points[0].Start, tc.wantPeriod, tc.wantPoints, tc.wantFirst)
			}
			for _, p := range body.Points {
				if p.Hits != tc.wantHits[p.Start] {
					t.Errorf("%s: %d hits, want %d", p.Start, p.Hits, tc.wantHits[p.Start])
				}
			}
		})
	}
	t.Run("missing counter", func(t *testing.T) {
		wantError(t, serve(t, h, http.MethodGet, "/counters/nope/stats", ""), http.StatusNotFound, "not_found")
	})
	t.Run("invalid name", func(t *testing.T) {
		wantError(t, serve(t, h, http.MethodGet, "/counters/a%2Fb/stats", ""), http.StatusBadRequest, "invalid_name")
	})
	t.Run("wrong method", func(t *testing.T) {
		res := serve(t, h, http.MethodPost, "/counters/home/stats", "")
		wantError(t, res, http.StatusMethodNotAllowed, "method_not_allowed")
	})
}

// TestListWithStats checks GET /counters with stats and prefix: one answer
// carries the page's counts and each counter's points, as the stats route
// gives them, and the same period, from and to.
func TestListWithStats(t *testing.T) {
	now := time.Now().UTC()
	clock := countertest.NewClock(now.Add(-72 * time.Hour))
	store := memstore.New(memstore.WithClock(clock.Now))
	ctx := context.Background()
	for _, name := range []string{"blog", "docs", "home", "home-2"} {
		if _, err := store.Apply(ctx, counter.Create(name, 7)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(now.Add(-24 * time.Hour))
	if _, err := store.Apply(ctx, counter.Increment("home", 4)); err != nil {
		t.Fatal(err)
	}
	clock.Set(now)
	if _, err := store.Apply(ctx, counter.Increment("home", 3)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{})
	today := now.Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)

	type page struct {
		Counters []struct {
			Name   string
			Count  int64
			Points []struct {
				Start string
				Hits  int64
			}
		}
		NextCursor string `json:"next_cursor"`
	}
	tests := map[string]struct {
		query      string
		wantNames  []string
		wantPoints int
		wantHits   []int64 // home's, oldest first
	}{
		"no stats":               {"?prefix=home", []string{"home", "home-2"}, 0, nil},
		"30 days":                {"?prefix=home&stats=day", []string{"home", "home-2"}, 30, nil},
		"since yesterday":        {"?prefix=home&stats=day&from=" + yesterday, []string{"home", "home-2"}, 2, []int64{4, 3}},
		"hours":                  {"?prefix=hom&stats=hour", []string{"home", "home-2"}, 48, nil},
		"prefix is the whole":    {"?prefix=home-2&stats=day&from=" + yesterday, []string{"home-2"}, 2, []int64{0, 0}},
		"no match":               {"?prefix=x&stats=day", nil, 0, nil},
		"every counter, a page":  {"?stats=day&limit=2", []string{"blog", "docs"}, 30, nil},
		"every counter, by name": {"", []string{"blog", "docs", "home", "home-2"}, 0, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res := serve(t, h, "GET", "/counters"+tt.query, "")
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var p page
			if err := json.Unmarshal(res.body, &p); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range p.Counters {
				names = append(names, c.Name)
				if len(c.Points) != tt.wantPoints {
					t.Errorf("%s: %d points, want %d", c.Name, len(c.Points), tt.wantPoints)
				}
				if c.Name == "home" && tt.wantHits != nil {
					for i, want := range tt.wantHits {
						if i < len(c.Points) && c.Points[i].Hits != want {
							t.Errorf("home point %d (%s): %d hits, want %d", i, c.Points[i].Start, c.Points[i].Hits, want)
						}
					}
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tt.wantNames) {
				t.Errorf("names %q, want %q", names, tt.wantNames)
			}
		})
	}
	for name, query := range map[string]string{
		"bad prefix":            "?prefix=-home",
		"prefix too long":       "?prefix=" + strings.Repeat("a", 129),
		"bad period":            "?stats=week",
		"from without stats":    "?from=" + yesterday,
		"to without stats":      "?to=" + yesterday,
		"bad from":              "?stats=day&from=yesterday",
		"too many with stats":   "?stats=day&limit=101",
		"too many points":       "?stats=hour&from=2020-01-01",
		"from after to":         "?stats=day&from=2026-11-27&to=2026-11-26",
		"empty stats is no day": "?stats=",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, serve(t, h, "GET", "/counters"+query, ""), http.StatusBadRequest, "invalid_request")
		})
	}
}
