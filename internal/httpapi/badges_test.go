package httpapi_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// badgeText returns the visible texts of an SVG badge (label, message),
// parsed as XML.
func badgeText(t *testing.T, body []byte) (label, message string) {
	t.Helper()
	var svg struct {
		XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
		Groups  []struct {
			Texts []struct {
				Hidden string `xml:"aria-hidden,attr"`
				Text   string `xml:",chardata"`
			} `xml:"text"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal(body, &svg); err != nil {
		t.Fatalf("badge is not SVG: %v\n%s", err, body)
	}
	var visible []string
	for _, g := range svg.Groups {
		for _, tx := range g.Texts {
			if tx.Hidden != "true" {
				visible = append(visible, tx.Text)
			}
		}
	}
	if len(visible) != 2 {
		t.Fatalf("got visible texts %q, want a label and a message", visible)
	}
	return visible[0], visible[1]
}

// wantBadgeHeaders checks the headers every badge has.
func wantBadgeHeaders(t *testing.T, res result, contentType string) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           contentType,
		"Cache-Control":          "no-cache, no-store, max-age=0, must-revalidate",
		"Expires":                "Thu, 01 Jan 1970 00:00:00 GMT",
		"Pragma":                 "no-cache",
		"X-Content-Type-Options": "nosniff",
	}
	if strings.HasPrefix(contentType, "image/svg+xml") {
		want["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
	}
	for k, v := range want {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if res.header.Get("ETag") == "" {
		t.Error("no ETag")
	}
}

const svgType = "image/svg+xml; charset=utf-8"

func TestBadges(t *testing.T) {
	tests := map[string]struct {
		target      string
		wantStatus  int
		wantLabel   string
		wantMessage string
		wantCount   int64 // of counter x afterwards
	}{
		"badge":                         {"/counters/x/badge.svg", 200, "hits", "41", 41},
		"badge, label":                  {"/counters/x/badge.svg?label=page%20views", 200, "page views", "41", 41},
		"badge, all parameters":         {"/counters/x/badge.svg?label=v&color=%23abc&style=flat-square", 200, "v", "41", 41},
		"badge, hostile label":          {"/counters/x/badge.svg?label=%3Cscript%3Ealert(1)%3C/script%3E", 200, "<script>alert(1)</script>", "41", 41},
		"badge, missing":                {"/counters/nope/badge.svg", 404, "hits", "not found", 41},
		"badge, missing, label":         {"/counters/nope/badge.svg?label=views", 404, "views", "not found", 41},
		"badge, invalid name":           {"/counters/-x/badge.svg", 400, "hits", "invalid name", 41},
		"badge, long name":              {"/counters/" + strings.Repeat("a", 129) + "/badge.svg", 400, "hits", "invalid name", 41},
		"badge, bad color":              {"/counters/x/badge.svg?color=url(%23x)", 400, "hits", "invalid color", 41},
		"badge, bad style":              {"/counters/x/badge.svg?style=plastic", 400, "hits", "invalid style", 41},
		"badge, long label":             {"/counters/x/badge.svg?label=" + strings.Repeat("%3Cb%3E", 65), 400, "hits", "invalid label", 41},
		"badge, control label":          {"/counters/x/badge.svg?label=a%1Bb", 400, "hits", "invalid label", 41},
		"badge, invalid UTF-8":          {"/counters/x/badge.svg?label=%C3%28", 400, "hits", "invalid label", 41},
		"badge, unknown param":          {"/counters/x/badge.svg?logo=%3Cscript%3E", 400, "hits", "unknown parameter", 41},
		"badge, repeated param":         {"/counters/x/badge.svg?label=a&label=b", 400, "hits", "repeated parameter", 41},
		"badge, broken query":           {"/counters/x/badge.svg?label=%zz", 400, "hits", "invalid query", 41},
		"hit":                           {"/counters/x/hit.svg", 200, "hits", "42", 42},
		"hit, label":                    {"/counters/x/hit.svg?label=views&color=green", 200, "views", "42", 42},
		"hit, missing":                  {"/counters/nope/hit.svg", 404, "hits", "not found", 41},
		"hit, bad query counts nothing": {"/counters/x/hit.svg?style=x", 400, "hits", "invalid style", 41},
		"hit, invalid name":             {"/counters/.x/hit.svg", 400, "hits", "invalid name", 41},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 41)); err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, store, httpapi.Options{})
			res := serve(t, h, "GET", tc.target, "")
			if res.status != tc.wantStatus {
				t.Errorf("got status %d, want %d", res.status, tc.wantStatus)
			}
			wantBadgeHeaders(t, res, svgType)
			label, message := badgeText(t, res.body)
			if label != tc.wantLabel || message != tc.wantMessage {
				t.Errorf("got badge %q | %q, want %q | %q", label, message, tc.wantLabel, tc.wantMessage)
			}
			if strings.Contains(string(res.body), "<script") || strings.Contains(string(res.body), "<b>") {
				t.Errorf("the badge holds markup from the query:\n%s", res.body)
			}
			c, err := store.Get(t.Context(), "x")
			if err != nil || c.Count != tc.wantCount {
				t.Errorf("counter x: got %d, %v; want %d", c.Count, err, tc.wantCount)
			}
			if _, err := store.Get(t.Context(), "nope"); counter.ErrorCode(err) != counter.NotFound {
				t.Errorf("counter nope: got %v, want not found (hit.svg creates nothing by default)", err)
			}
		})
	}
}

func TestHitHeadCountsNothing(t *testing.T) {
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create("x", 9)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{HitCreates: true})
	for _, target := range []string{"/counters/x/hit.svg", "/counters/missing/hit.svg"} {
		res := serve(t, h, "HEAD", target, "")
		if len(res.body) != 0 || res.header.Get("Content-Type") != svgType {
			t.Errorf("HEAD %s: got %d with %d bytes, Content-Type %q; want no body and an SVG type", target, res.status, len(res.body), res.header.Get("Content-Type"))
		}
	}
	if c, err := store.Get(t.Context(), "x"); err != nil || c.Count != 9 {
		t.Errorf("after HEAD: got %d, %v; want 9", c.Count, err)
	}
	if _, err := store.Get(t.Context(), "missing"); counter.ErrorCode(err) != counter.NotFound {
		t.Errorf("HEAD created a counter: %v", err)
	}
}

func TestBadgeStoreFailures(t *testing.T) {
	tests := map[string]struct {
		err         error
		wantStatus  int
		wantMessage string
		wantLogged  string
	}{
		"outage":   {counter.UnavailableError(errors.New("secret dial tcp 10.0.0.1")), 503, "unavailable", "secret dial tcp"},
		"internal": {errSecret, 500, "error", errSecret.Error()},
		"deadline": {context.DeadlineExceeded, 503, "unavailable", "deadline"},
	}
	for name, tc := range tests {
		for _, target := range []string{"/counters/x/badge.svg?label=up", "/counters/x/hit.svg?label=up"} {
			t.Run(name+target, func(t *testing.T) {
				var logs syncBuffer
				h := newHandler(t, failingStore{tc.err}, httpapi.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
				res := serve(t, h, "GET", target, "")
				if res.status != tc.wantStatus {
					t.Errorf("got status %d, want %d", res.status, tc.wantStatus)
				}
				wantBadgeHeaders(t, res, svgType)
				if label, message := badgeText(t, res.body); label != "up" || message != tc.wantMessage {
					t.Errorf("got badge %q | %q, want %q | %q", label, message, "up", tc.wantMessage)
				}
				if tc.wantStatus == 503 && res.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				if strings.Contains(string(res.body), "secret") {
					t.Errorf("the badge shows the cause: %s", res.body)
				}
				if !strings.Contains(logs.String(), tc.wantLogged) {
					t.Errorf("logs %s, want the cause %q", logs.String(), tc.wantLogged)
				}
			})
		}
	}
}

func TestHitCreates(t *testing.T) {
	store := memstore.New()
	h := newHandler(t, store, httpapi.Options{HitCreates: true})
	for i, want := range []string{"1", "2", "3"} {
		res := serve(t, h, "GET", "/counters/fresh/hit.svg", "")
		if _, message := badgeText(t, res.body); res.status != 200 || message != want {
			t.Errorf("hit %d: got %d %q, want 200 %q", i+1, res.status, message, want)
		}
	}
	// A bad name still creates nothing.
	if res := serve(t, h, "GET", "/counters/-bad/hit.svg", ""); res.status != 400 {
		t.Errorf("bad name: got %d, want 400", res.status)
	}
	page, err := store.List(t.Context(), counter.ListOptions{Limit: 10})
	if err != nil || len(page.Counters) != 1 {
		t.Errorf("got counters %+v, %v; want only fresh", page.Counters, err)
	}
}

func TestBadgeNotModified(t *testing.T) {
	store := memstore.New()
	if _, err := store.Apply(t.Context(), counter.Create("x", 3)); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, store, httpapi.Options{})
	for _, target := range []string{"/counters/x/badge.svg", "/counters/x/shields.json"} {
		first := serve(t, h, "GET", target, "")
		req := httptestRequest("GET", target)
		req.Header.Set("If-None-Match", first.header.Get("ETag"))
		res := do(h, req)
		if res.status != http.StatusNotModified || len(res.body) != 0 {
			t.Errorf("%s with its ETag: got %d %q, want 304 without a body", target, res.status, res.body)
		}
		if _, err := store.Apply(t.Context(), counter.Increment("x", 1)); err != nil {
			t.Fatal(err)
		}
		if res := do(h, req); res.status != http.StatusOK {
			t.Errorf("%s after a change: got %d, want 200", target, res.status)
		}
	}
}

func TestShieldsEndpoint(t *testing.T) {
	tests := map[string]struct {
		target     string
		wantStatus int
		want       map[string]any
	}{
		"count": {"/counters/x/shields.json", 200,
			map[string]any{"schemaVersion": 1.0, "label": "hits", "message": "12", "color": "blue", "style": "flat"}},
		"parameters": {"/counters/x/shields.json?label=%3Cviews%3E&color=f80&style=flat-square", 200,
			map[string]any{"schemaVersion": 1.0, "label": "<views>", "message": "12", "color": "ff8800", "style": "flat-square"}},
		"missing": {"/counters/nope/shields.json", 404,
			map[string]any{"schemaVersion": 1.0, "label": "hits", "message": "not found", "color": "lightgrey", "style": "flat", "isError": true}},
		"bad color": {"/counters/x/shields.json?color=nope", 400,
			map[string]any{"schemaVersion": 1.0, "label": "hits", "message": "invalid color", "color": "lightgrey", "style": "flat", "isError": true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 12)); err != nil {
				t.Fatal(err)
			}
			res := serve(t, newHandler(t, store, httpapi.Options{}), "GET", tc.target, "")
			if res.status != tc.wantStatus {
				t.Errorf("got status %d, want %d", res.status, tc.wantStatus)
			}
			wantBadgeHeaders(t, res, "application/json")
			var got map[string]any
			if err := json.Unmarshal(res.body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// TestHitCreatesCountsInStats: with HitCreates, the view that creates a
// counter is a hit like the others: 40 concurrent first views make the
// count 40 and 40 hits in its stats (issue 19, finding 8: stats said 39).
func TestHitCreatesCountsInStats(t *testing.T) {
	store := memstore.New()
	h := newHandler(t, store, httpapi.Options{HitCreates: true})
	const views = 40
	var wg sync.WaitGroup
	for range views {
		wg.Go(func() {
			if res := do(h, httptestRequest("GET", "/counters/fresh/hit.svg")); res.status != http.StatusOK {
				t.Errorf("hit.svg: got %d, want 200", res.status)
			}
		})
	}
	wg.Wait()
	c, err := store.Get(t.Context(), "fresh")
	if err != nil || c.Count != views {
		t.Fatalf("got %+v, %v; want count %d", c, err, views)
	}
	points, err := store.Stats(t.Context(), "fresh", counter.StatsQuery{Period: counter.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var hits int64
	for _, p := range points {
		hits += p.Hits
	}
	if hits != views {
		t.Errorf("stats: %d hits, want %d: the creating view is a hit", hits, views)
	}
}
