package apitest

// The checks of each counter operation that succeeds, and of concurrent
// increments.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// maxCount is the largest count: 2^53-1.
const maxCount int64 = 1<<53 - 1

// create makes a counter and returns it.
func (s *suite) create(t *testing.T, name string, count int64) counterJSON {
	t.Helper()
	r := s.do(t, jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"count":%d}`, name, count)))
	wantLocation(t, r, name)
	return wantCounter(t, r, http.StatusCreated, name, count)
}

// get fetches a counter that must exist.
func (s *suite) get(t *testing.T, name string) counterJSON {
	t.Helper()
	r := s.do(t, request{method: http.MethodGet, target: "/counters/" + name})
	var c counterJSON
	if r.status != http.StatusOK {
		t.Fatalf("GET /counters/%s: got %v, want 200", name, r)
	}
	decode(t, r, &c)
	return c
}

// wantCount checks the count of a counter that must exist.
func (s *suite) wantCount(t *testing.T, name string, want int64) {
	t.Helper()
	if got := s.get(t, name).Count; got != want {
		t.Errorf("GET /counters/%s: got count %d, want %d", name, got, want)
	}
}

// wantMissing checks that a counter does not exist.
func (s *suite) wantMissing(t *testing.T, name string) {
	t.Helper()
	s.expectError(t, request{method: http.MethodGet, target: "/counters/" + name}, http.StatusNotFound, "not_found")
}

func (s *suite) testHealth(t *testing.T) {
	r := s.do(t, request{method: http.MethodGet, target: "/health"})
	if r.status != http.StatusOK {
		t.Fatalf("got %v, want 200", r)
	}
	var body struct {
		Status string `json:"status"`
	}
	decode(t, r, &body)
	if body.Status != "ok" {
		t.Errorf("got status %q, want ok", body.Status)
	}
}

func (s *suite) testCreate(t *testing.T) {
	long := s.prefix + "long-"
	long += strings.Repeat("x", 128-len(long))
	tests := map[string]struct {
		name        string
		body        string // %[1]q is the name
		contentType string
		wantCount   int64
	}{
		"name only":            {name: "create-plain", body: `{"name":%[1]q}`, contentType: "application/json"},
		"with count":           {name: "create-count", body: `{"name":%[1]q,"count":10}`, contentType: "application/json", wantCount: 10},
		"count zero":           {name: "create-zero", body: `{"count":0,"name":%[1]q}`, contentType: "application/json"},
		"largest count":        {name: "create-max", body: `{"name":%[1]q,"count":9007199254740991}`, contentType: "application/json", wantCount: maxCount},
		"whitespace":           {name: "create-space", body: " \n{ \"name\" : %[1]q ,\t\"count\" : 7 }\n ", contentType: "application/json", wantCount: 7},
		"128-character name":   {name: long[len(s.prefix):], body: `{"name":%[1]q}`, contentType: "application/json"},
		"dots dashes digits":   {name: "9.a_b-C", body: `{"name":%[1]q}`, contentType: "application/json"},
		"text/plain body":      {name: "create-text", body: `{"name":%[1]q,"count":3}`, contentType: "text/plain", wantCount: 3},
		"form content type":    {name: "create-form", body: `{"name":%[1]q,"count":4}`, contentType: "application/x-www-form-urlencoded", wantCount: 4},
		"no content type":      {name: "create-none", body: `{"name":%[1]q,"count":5}`, wantCount: 5},
		"charset content type": {name: "create-charset", body: `{"name":%[1]q}`, contentType: "application/json; charset=utf-8"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			counter := s.name(tt.name)
			body := fmt.Sprintf(tt.body, counter)
			r := s.do(t, request{method: http.MethodPost, target: "/counters", body: []byte(body), contentType: tt.contentType})
			c := wantCounter(t, r, http.StatusCreated, counter, tt.wantCount)
			wantLocation(t, r, counter)
			if c.CreatedAt != c.UpdatedAt {
				t.Errorf("got created_at %s and updated_at %s, want them equal on creation", c.CreatedAt, c.UpdatedAt)
			}
			if got := s.get(t, counter); got != c {
				t.Errorf("GET after create: got %+v, want %+v", got, c)
			}

			// A second create fails and changes nothing.
			dup := jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q,"count":99}`, counter))
			s.expectError(t, dup, http.StatusConflict, "already_exists")
			if got := s.get(t, counter); got != c {
				t.Errorf("GET after a duplicate create: got %+v, want %+v", got, c)
			}
		})
	}
}

func (s *suite) testGet(t *testing.T) {
	name := s.name("get-Case")
	c := s.create(t, name, 12)
	if got := s.get(t, name); got != c {
		t.Errorf("got %+v, want %+v", got, c)
	}
	tests := map[string]string{
		"missing":          s.prefix + "get-missing",
		"other case":       strings.ToLower(name),
		"prefix of a name": name[:len(name)-1],
	}
	for test, missing := range tests {
		t.Run(test, func(t *testing.T) {
			s.wantMissing(t, missing)
		})
	}
}

func (s *suite) testSet(t *testing.T) {
	name := s.name("set")
	put := func(count string) request {
		return jsonBody(http.MethodPut, "/counters/"+name, `{"count":`+count+`}`)
	}

	r := s.do(t, put("42"))
	created := wantCounter(t, r, http.StatusCreated, name, 42)
	wantLocation(t, r, name)
	if got := s.get(t, name); got != created {
		t.Errorf("GET after PUT created: got %+v, want %+v", got, created)
	}

	tests := []struct {
		name  string
		count string
		want  int64
	}{
		{"lower", "7", 7},
		{"zero", "0", 0},
		{"largest", "9007199254740991", maxCount},
		{"same again", "9007199254740991", maxCount},
	}
	prev := created
	for _, tt := range tests { // in order: each step builds on the one before
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, put(tt.count))
			c := wantCounter(t, r, http.StatusOK, name, tt.want)
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("got Location %q on 200, want none", loc)
			}
			if c.CreatedAt != created.CreatedAt {
				t.Errorf("got created_at %s, want it unchanged at %s", c.CreatedAt, created.CreatedAt)
			}
			if parseTime(t, c.UpdatedAt).Before(parseTime(t, prev.UpdatedAt)) {
				t.Errorf("got updated_at %s before the previous %s", c.UpdatedAt, prev.UpdatedAt)
			}
			prev = c
		})
	}
}

// adjust is PATCH /counters/{name} with the body {"by":by}: the admin
// route that changes a count by any amount.
func adjust(name string, by int64) request {
	return jsonBody(http.MethodPatch, "/counters/"+name, `{"by":`+strconv.FormatInt(by, 10)+`}`)
}

// testIncrement checks the open increment: 1 by default, and the other
// amounts it takes (any, without API keys; 1 to the public bound with
// them, every other one 403 forbidden, key or not).
func (s *suite) testIncrement(t *testing.T) {
	name := s.name("inc")
	s.create(t, name, 0)
	target := "/counters/" + name + "/increment"
	type step struct {
		name string
		req  request
		want int64
	}
	// Each builds on the one before; by is 1 in all of them.
	steps := []step{
		{"no body", request{method: http.MethodPost, target: target}, 1},
		{"empty body", request{method: http.MethodPost, target: target, body: []byte{}, contentType: "application/json"}, 2},
		{"empty object", jsonBody(http.MethodPost, target, `{}`), 3},
		{"whitespace body", jsonBody(http.MethodPost, target, " \n\t "), 4},
		{"by 1", jsonBody(http.MethodPost, target, `{"by":1}`), 5},
		{"text/plain body", request{method: http.MethodPost, target: target, body: []byte(`{"by":1}`), contentType: "text/plain"}, 6},
		{"no content type", request{method: http.MethodPost, target: target, body: []byte(`{"by":1}`)}, 7},
		{"chunked body", request{method: http.MethodPost, target: target, body: []byte(`{"by":1}`), chunked: true}, 8},
		{"chunked empty body", request{method: http.MethodPost, target: target, body: []byte(" "), chunked: true}, 9},
		{"escaped member name", jsonBody(http.MethodPost, target, `{"\u0062y":1}`), 10},
		{"spaces inside", jsonBody(http.MethodPost, target, "{ \"by\" :\t1 }"), 11},
	}
	if s.publicMaxIncrement() == 0 { // without API keys, any by
		steps = append(steps,
			step{"by 5", jsonBody(http.MethodPost, target, `{"by":5}`), 16},
			step{"by -3", jsonBody(http.MethodPost, target, `{"by":-3}`), 13},
			step{"text/plain by 2", request{method: http.MethodPost, target: target, body: []byte(`{"by":2}`), contentType: "text/plain"}, 15},
			step{"chunked by 10", request{method: http.MethodPost, target: target, body: []byte(`{"by":10}`), chunked: true}, 25},
			step{"to zero", jsonBody(http.MethodPost, target, `{"by":-25}`), 0},
		)
	}
	var want int64
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			wantCounter(t, s.do(t, step.req), http.StatusOK, name, step.want)
		})
		want = step.want
	}
	s.wantCount(t, name, want)

	t.Run("missing counter", func(t *testing.T) {
		missing := s.prefix + "inc-missing"
		s.expectError(t, request{method: http.MethodPost, target: "/counters/" + missing + "/increment"}, http.StatusNotFound, "not_found")
		s.wantMissing(t, missing) // increment does not create
	})
	if bound := s.publicMaxIncrement(); bound > 0 {
		t.Run("only adds views", func(t *testing.T) { s.testPublicBound(t, bound) })
		return
	}
	t.Run("bounds", func(t *testing.T) {
		s.testIncrementBounds(t, func(name string, by int64) request {
			return jsonBody(http.MethodPost, "/counters/"+name+"/increment", `{"by":`+strconv.FormatInt(by, 10)+`}`)
		})
	})
}

// testPublicBound checks that, with API keys, the open increment takes a
// by from 1 to bound only: any other is 403 forbidden with a message that
// names the admin route, with or without a key (behind API Gateway a
// function on an open route cannot tell a valid key from an invalid one),
// and changes nothing.
func (s *suite) testPublicBound(t *testing.T, bound int64) {
	name := s.name("inc-bound")
	s.create(t, name, 100)
	target := "/counters/" + name + "/increment"
	wantCounter(t, s.do(t, jsonBody(http.MethodPost, target, `{"by":`+strconv.FormatInt(bound, 10)+`}`)), http.StatusOK, name, 100+bound)
	for _, by := range []int64{bound + 1, -1, -100, maxCount, -maxCount, 1010} {
		if by > 0 && by <= bound {
			continue
		}
		for _, key := range []struct {
			test  string
			noKey bool
		}{{"with the key", false}, {"without a key", true}} {
			t.Run(fmt.Sprintf("by %d %s", by, key.test), func(t *testing.T) {
				req := jsonBody(http.MethodPost, target, `{"by":`+strconv.FormatInt(by, 10)+`}`)
				req.noKey = key.noKey
				r := s.expectError(t, req, http.StatusForbidden, "forbidden")
				if !strings.Contains(string(r.body), "PATCH /counters/"+name) {
					t.Errorf("got %s, want a message naming PATCH /counters/%s", r.body, name)
				}
			})
		}
	}
	s.wantCount(t, name, 100+bound) // no refused increment changed it

	// A page on another origin can send what a form or a no-cors fetch
	// sends (text/plain, a form type; no preflight, no key): CORS then
	// hides the answer but does not stop the request, so the bound must.
	// Such a request adds a view, and nothing else.
	want := 100 + bound
	for _, contentType := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		crossOrigin := func(body string) request {
			return request{method: http.MethodPost, target: target, body: []byte(body), contentType: contentType,
				noKey: true, noOrigin: true, header: http.Header{"Origin": {"https://stranger.example"}}}
		}
		t.Run("another origin, "+contentType, func(t *testing.T) {
			for _, by := range []int64{1000, bound + 1, -1, -maxCount} {
				s.expectError(t, crossOrigin(`{"by":`+strconv.FormatInt(by, 10)+`}`), http.StatusForbidden, "forbidden")
			}
			want++
			wantCounter(t, s.do(t, crossOrigin(`{"by":1}`)), http.StatusOK, name, want)
		})
	}
	s.wantCount(t, name, want)
}

// testIncrementBounds checks the range of counts: an increment made with
// req that would leave 0..maxCount is 409 out_of_range and changes nothing.
func (s *suite) testIncrementBounds(t *testing.T, req func(name string, by int64) request) {
	bounds := map[string]struct {
		start, by int64
		wantCode  string // "" for success
	}{
		"up to the largest count":    {start: maxCount - 1, by: 1},
		"past the largest count":     {start: maxCount, by: 1, wantCode: "out_of_range"},
		"far past the largest count": {start: 1, by: maxCount, wantCode: "out_of_range"},
		"largest by":                 {start: 0, by: maxCount},
		"down to zero":               {start: maxCount, by: -maxCount},
		"below zero":                 {start: 2, by: -3, wantCode: "out_of_range"},
		"zero minus one":             {start: 0, by: -1, wantCode: "out_of_range"},
		"smallest by below zero":     {start: maxCount - 1, by: -maxCount, wantCode: "out_of_range"},
	}
	for test, tt := range bounds {
		t.Run(test, func(t *testing.T) {
			name := s.name(fmt.Sprintf("%s-%s", req("x", 1).method, strings.ReplaceAll(test, " ", "-")))
			s.create(t, name, tt.start)
			if tt.wantCode == "" {
				wantCounter(t, s.do(t, req(name, tt.by)), http.StatusOK, name, tt.start+tt.by)
				return
			}
			s.expectError(t, req(name, tt.by), http.StatusConflict, tt.wantCode)
			s.wantCount(t, name, tt.start) // unchanged
		})
	}
}

// testAdjust checks PATCH /counters/{name} {"by":N}, the admin route that
// changes a count by any amount (an increment, as a hit in the stats).
func (s *suite) testAdjust(t *testing.T) {
	name := s.name("adj")
	s.create(t, name, 0)
	target := "/counters/" + name
	steps := []struct {
		name string
		req  request
		want int64
	}{
		{"by 5", adjust(name, 5), 5},
		{"by -3", adjust(name, -3), 2},
		{"by 1", adjust(name, 1), 3},
		{"text/plain body", request{method: http.MethodPatch, target: target, body: []byte(`{"by":2}`), contentType: "text/plain"}, 5},
		{"no content type", request{method: http.MethodPatch, target: target, body: []byte(`{"by":2}`)}, 7},
		{"chunked body", request{method: http.MethodPatch, target: target, body: []byte(`{"by":10}`), chunked: true}, 17},
		{"escaped member name", jsonBody(http.MethodPatch, target, `{"\u0062y":2}`), 19},
		{"spaces inside", jsonBody(http.MethodPatch, target, "{ \"by\" :\t-1 }"), 18},
		{"to zero", adjust(name, -18), 0},
	}
	for _, step := range steps { // in order: each step builds on the one before
		t.Run(step.name, func(t *testing.T) {
			wantCounter(t, s.do(t, step.req), http.StatusOK, name, step.want)
		})
	}
	s.wantCount(t, name, 0)
	t.Run("missing counter", func(t *testing.T) {
		missing := s.prefix + "adj-missing"
		s.expectError(t, adjust(missing, 5), http.StatusNotFound, "not_found")
		s.wantMissing(t, missing) // adjust does not create
	})
	t.Run("bounds", func(t *testing.T) { s.testIncrementBounds(t, adjust) })
}

func (s *suite) testDelete(t *testing.T) {
	name := s.name("del")
	s.create(t, name, 3)
	r := s.do(t, request{method: http.MethodDelete, target: "/counters/" + name})
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("got %v, want 204 with no body", r)
	}
	s.wantMissing(t, name)
	s.expectError(t, request{method: http.MethodDelete, target: "/counters/" + name}, http.StatusNotFound, "not_found")
	s.expectError(t, request{method: http.MethodPost, target: "/counters/" + name + "/increment"}, http.StatusNotFound, "not_found")
	// The name can be used again, from scratch.
	s.create(t, name, 0)
	s.expectError(t, request{method: http.MethodDelete, target: "/counters/" + s.prefix + "del-missing"}, http.StatusNotFound, "not_found")
}

func (s *suite) testConcurrentIncrements(t *testing.T) {
	name := s.name("concurrent")
	s.create(t, name, 0)
	workers, each := s.opts.Workers, s.opts.IncrementsPerWorker
	total := workers * each
	req := request{method: http.MethodPost, target: "/counters/" + name + "/increment"}

	var wg sync.WaitGroup
	counts := make([][]int64, workers) // counts[w]: what worker w saw
	for w := range workers {
		wg.Go(func() {
			for range each {
				r, err := s.send(t.Context(), req)
				if err != nil {
					t.Error(err)
					return
				}
				if r.status != http.StatusOK {
					t.Errorf("got %v, want 200", r)
					return
				}
				var c counterJSON
				if err := json.Unmarshal(r.body, &c); err != nil {
					t.Errorf("decode %v: %v", r, err)
					return
				}
				counts[w] = append(counts[w], c.Count)
			}
		})
	}
	wg.Wait()
	s.wantCount(t, name, int64(total))

	// Each increment by 1 returns the count after it, so the answers are
	// exactly 1..total, each once.
	all := slices.Concat(counts...)
	slices.Sort(all)
	for i, c := range all {
		if c != int64(i+1) {
			t.Fatalf("answers sorted: got %d at %d, want %d (lost or doubled increments)", c, i, i+1)
		}
	}
	if len(all) != total {
		t.Errorf("got %d answers, want %d", len(all), total)
	}
}
