package apitest

// The checks of listing: complete walks at every page size, bad limits
// and cursors.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// listPage is one page of a listing.
type listPage struct {
	Counters   []counterJSON `json:"counters"`
	NextCursor *string       `json:"next_cursor"`
}

func (s *suite) testList(t *testing.T) {
	const n = 23
	listPrefix := s.prefix + "list-"
	want := map[string]int64{}
	for i := range n {
		name := s.name(fmt.Sprintf("list-%02d", i))
		s.create(t, name, int64(i))
		want[name] = int64(i)
	}

	walks := map[string]struct {
		limit   string // "" sends none
		maxPage int
	}{
		"default limit": {maxPage: 100},
		"limit 1":       {limit: "1", maxPage: 1},
		"limit 7":       {limit: "7", maxPage: 7},
		"limit 1000":    {limit: "1000", maxPage: 1000},
	}
	for test, w := range walks {
		t.Run(test, func(t *testing.T) {
			seen := map[string]int{}
			cursors := map[string]bool{}
			pages := 0
			cursor := ""
			for {
				q := []string{}
				if w.limit != "" {
					q = append(q, "limit="+w.limit)
				}
				if cursor != "" {
					q = append(q, "cursor="+url.QueryEscape(cursor))
				}
				target := "/counters"
				if len(q) > 0 {
					target += "?" + strings.Join(q, "&")
				}
				r := s.do(t, request{method: http.MethodGet, target: target})
				if r.status != http.StatusOK {
					t.Fatalf("GET %s: got %v, want 200", target, r)
				}
				var page listPage
				decode(t, r, &page)
				pages++
				if len(page.Counters) > w.maxPage {
					t.Errorf("GET %s: got %d counters, want at most %d", target, len(page.Counters), w.maxPage)
				}
				for _, c := range page.Counters {
					if strings.HasPrefix(c.Name, listPrefix) {
						seen[c.Name]++
						if c.Count != want[c.Name] {
							t.Errorf("counter %s: got count %d, want %d", c.Name, c.Count, want[c.Name])
						}
					}
				}
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
				if cursor == "" || cursors[cursor] {
					t.Fatalf("GET %s: got next_cursor %q, empty or seen before", target, cursor)
				}
				cursors[cursor] = true
				if pages > 100000 {
					t.Fatalf("no last page after %d pages", pages)
				}
			}
			for name := range want {
				if seen[name] != 1 {
					t.Errorf("counter %s: seen %d times, want once", name, seen[name])
				}
			}
			for name, times := range seen {
				if _, ok := want[name]; !ok {
					t.Errorf("counter %s: seen %d times, want never (not created)", name, times)
				}
			}
			if w.limit == "1" && pages < n {
				t.Errorf("got %d pages of 1, want at least %d", pages, n)
			}
		})
	}

	bad := map[string]string{
		"limit 0":                 "limit=0",
		"limit 1001":              "limit=1001",
		"limit -1":                "limit=-1",
		"limit abc":               "limit=abc",
		"limit empty":             "limit=",
		"limit fractional":        "limit=1.5",
		"limit exponent":          "limit=1e2",
		"limit huge":              "limit=99999999999999999999",
		"cursor garbage":          "cursor=not-a-cursor",
		"cursor base64 of a name": "cursor=bm90LWEtY3Vyc29y",
		"cursor punctuation":      "cursor=%21%21%21",
		"cursor very long":        "cursor=" + strings.Repeat("A", 4096),
		"cursor with limit":       "limit=5&cursor=zzzz",
	}
	if !s.opts.Gateway {
		// Behind a gateway the query string is decoded by the gateway,
		// which drops or rejects what it cannot decode before the
		// service sees it.
		bad["bad percent-encoding"] = "cursor=%zz"
	}
	for test, query := range bad {
		t.Run(test, func(t *testing.T) {
			s.expectError(t, request{method: http.MethodGet, target: "/counters?" + query}, http.StatusBadRequest, "invalid_request")
		})
	}
}
