package apitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// maxCount is the largest count: 2^53-1.
const maxCount int64 = 1<<53 - 1

// expectError sends req and checks that the answer is the JSON error
// status/code; for requests a gateway may answer itself, under
// Options.Gateway, any 4xx will do.
func (s *suite) expectError(t *testing.T, req request, status int, code string) response {
	t.Helper()
	r := s.do(t, req)
	if s.opts.Gateway && req.gatewayMayAnswer {
		if r.status < 400 || r.status > 499 {
			t.Errorf("%s %s: got %v, want a 4xx", req.method, req.target, r)
		}
		return r
	}
	wantError(t, r, status, code)
	return r
}

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

func (s *suite) testIncrement(t *testing.T) {
	name := s.name("inc")
	s.create(t, name, 0)
	target := "/counters/" + name + "/increment"
	steps := []struct {
		name string
		req  request
		want int64
	}{
		{"no body", request{method: http.MethodPost, target: target}, 1},
		{"empty body", request{method: http.MethodPost, target: target, body: []byte{}, contentType: "application/json"}, 2},
		{"empty object", jsonBody(http.MethodPost, target, `{}`), 3},
		{"whitespace body", jsonBody(http.MethodPost, target, " \n\t "), 4},
		{"by 5", jsonBody(http.MethodPost, target, `{"by":5}`), 9},
		{"by -3", jsonBody(http.MethodPost, target, `{"by":-3}`), 6},
		{"text/plain body", request{method: http.MethodPost, target: target, body: []byte(`{"by":2}`), contentType: "text/plain"}, 8},
		{"no content type", request{method: http.MethodPost, target: target, body: []byte(`{"by":2}`)}, 10},
		{"chunked body", request{method: http.MethodPost, target: target, body: []byte(`{"by":10}`), chunked: true}, 20},
		{"chunked empty body", request{method: http.MethodPost, target: target, body: []byte(" "), chunked: true}, 21},
		{"escaped member name", jsonBody(http.MethodPost, target, `{"\u0062y":2}`), 23},
		{"spaces inside", jsonBody(http.MethodPost, target, "{ \"by\" :\t-1 }"), 22},
		{"to zero", jsonBody(http.MethodPost, target, `{"by":-22}`), 0},
	}
	for _, step := range steps { // in order: each step builds on the one before
		t.Run(step.name, func(t *testing.T) {
			wantCounter(t, s.do(t, step.req), http.StatusOK, name, step.want)
		})
	}
	s.wantCount(t, name, 0)

	t.Run("missing counter", func(t *testing.T) {
		missing := s.prefix + "inc-missing"
		s.expectError(t, request{method: http.MethodPost, target: "/counters/" + missing + "/increment"}, http.StatusNotFound, "not_found")
		s.wantMissing(t, missing) // increment does not create
	})

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
			name := s.name("inc-" + strings.ReplaceAll(test, " ", "-"))
			s.create(t, name, tt.start)
			req := jsonBody(http.MethodPost, "/counters/"+name+"/increment", `{"by":`+strconv.FormatInt(tt.by, 10)+`}`)
			if tt.wantCode == "" {
				wantCounter(t, s.do(t, req), http.StatusOK, name, tt.start+tt.by)
				return
			}
			s.expectError(t, req, http.StatusConflict, tt.wantCode)
			s.wantCount(t, name, tt.start) // unchanged
		})
	}
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

// invalidName is a name that is not one, as sent in a path (escaped) and in
// a JSON body.
type invalidName struct{ path, body string }

func (s *suite) invalidNames() map[string]invalidName {
	return map[string]invalidName{
		"leading dot":           {".a", ".a"},
		"leading dash":          {"-a", "-a"},
		"leading underscore":    {"_a", "_a"},
		"129 characters":        {strings.Repeat("a", 129), strings.Repeat("a", 129)},
		"percent-encoded slash": {"a%2Fb", "a/b"},
		"non-ASCII":             {"%C3%A9t%C3%A9", "été"},
		"space":                 {"a%20b", "a b"},
		"plus":                  {"a+b", "a+b"},
		"at sign":               {"a@b", "a@b"},
		"percent":               {"a%25b", "a%b"},
		"NUL":                   {"a%00b", "a\x00b"},
		"newline":               {"a%0Ab", "a\nb"},
		"dot dot":               {"..", ".."},
		"encoded dot dot":       {"%2E%2E", ".."},
	}
}

func (s *suite) testInvalidNames(t *testing.T) {
	for test, n := range s.invalidNames() {
		t.Run(test, func(t *testing.T) {
			target := "/counters/" + n.path
			reqs := []request{
				{method: http.MethodGet, target: target},
				jsonBody(http.MethodPut, target, `{"count":1}`),
				{method: http.MethodDelete, target: target},
				{method: http.MethodPost, target: target + "/increment"},
				jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%s}`, jsonString(n.body))),
			}
			for _, req := range reqs {
				s.expectError(t, req, http.StatusBadRequest, "invalid_name")
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		// A gateway may route an empty path segment nowhere.
		put := jsonBody(http.MethodPut, "/counters/", `{"count":1}`)
		put.gatewayMayAnswer = true
		reqs := []request{
			{method: http.MethodGet, target: "/counters/", gatewayMayAnswer: true},
			put,
			{method: http.MethodDelete, target: "/counters/", gatewayMayAnswer: true},
			{method: http.MethodPost, target: "/counters//increment", gatewayMayAnswer: true},
			jsonBody(http.MethodPost, "/counters", `{"name":""}`),
			jsonBody(http.MethodPost, "/counters", `{}`),
			jsonBody(http.MethodPost, "/counters", `{"count":1}`),
			jsonBody(http.MethodPost, "/counters", `{"name":null}`),
		}
		for _, req := range reqs {
			s.expectError(t, req, http.StatusBadRequest, "invalid_name")
		}
	})
}

func (s *suite) testBodies(t *testing.T) {
	// In the bodies below, {field} is the number field of the route,
	// {others} the other members of a valid body followed by a comma,
	// {valid} all the members of a valid body and {caps} the same with the
	// number field's name in other letter case.
	common := map[string]string{
		"malformed":          `{{valid}`,
		"not JSON":           `hello`,
		"trailing object":    `{{valid}} {}`,
		"trailing garbage":   `{{valid}}x`,
		"trailing comma":     `{{valid},}`,
		"missing colon":      `{{others}"{field}" 1}`,
		"single quotes":      `{{others}'{field}':1}`,
		"unknown field":      `{{valid},"extra":1}`,
		"field in caps":      `{{caps}}`,
		"array":              `[{{valid}}]`,
		"string":             `"{}"`,
		"number":             `5`,
		"null":               `null`,
		"true":               `true`,
		"string number":      `{{others}"{field}":"5"}`,
		"fractional":         `{{others}"{field}":1.5}`,
		"integral fraction":  `{{others}"{field}":1.0}`,
		"exponent":           `{{others}"{field}":1e2}`,
		"too large":          `{{others}"{field}":9007199254740992}`,
		"int64 overflow":     `{{others}"{field}":9223372036854775808}`,
		"huge":               `{{others}"{field}":1e400}`,
		"very long number":   `{{others}"{field}":` + strings.Repeat("9", 400) + `}`,
		"leading zero":       `{{others}"{field}":01}`,
		"plus sign":          `{{others}"{field}":+1}`,
		"hex":                `{{others}"{field}":0x10}`,
		"boolean":            `{{others}"{field}":true}`,
		"object":             `{{others}"{field}":{}}`,
		"array number":       `{{others}"{field}":[1]}`,
		"null number":        `{{others}"{field}":null}`,
		"invalid UTF-8":      "{{others}\"{field}\":1,\"\xff\":1}",
		"unterminated":       `{{others}"{field}`,
		"comment":            `{{valid} /* hi */}`,
		"duplicate with bad": `{{valid},"{field}":-1.5}`,
	}
	body := func(format, field, others, valid, caps string) string {
		return strings.NewReplacer("{field}", field, "{others}", others, "{valid}", valid, "{caps}", caps).Replace(format)
	}
	t.Run("create", func(t *testing.T) {
		for test, format := range merge(common, map[string]string{
			"negative count":  `{{others}"{field}":-1}`,
			"minus zero":      `{{others}"{field}":-0.0}`,
			"name not string": `{"name":5}`,
			"name array":      `{"name":["a"]}`,
			"name object":     `{"name":{}}`,
			"empty body":      ``,
			"whitespace body": " \n ",
		}) {
			t.Run(test, func(t *testing.T) {
				name := s.name("bad-create-" + strings.ReplaceAll(test, " ", "-"))
				others := fmt.Sprintf(`"name":%q,`, name)
				b := body(format, "count", others, others+`"count":1`, others+`"Count":1`)
				s.expectError(t, jsonBody(http.MethodPost, "/counters", b), http.StatusBadRequest, "invalid_request")
				s.wantMissing(t, name)
			})
		}
	})
	t.Run("set", func(t *testing.T) {
		for test, format := range merge(common, map[string]string{
			"negative count":  `{"{field}":-1}`,
			"empty body":      ``,
			"whitespace body": " \n ",
			"empty object":    `{}`,
			"name field":      `{"name":"x","count":1}`,
			"escaped caps":    `{"\u0043ount":1}`,
		}) {
			t.Run(test, func(t *testing.T) {
				name := s.name("bad-set-" + strings.ReplaceAll(test, " ", "-"))
				b := body(format, "count", "", `"count":1`, `"Count":1`)
				s.expectError(t, jsonBody(http.MethodPut, "/counters/"+name, b), http.StatusBadRequest, "invalid_request")
				s.wantMissing(t, name)
			})
		}
	})
	t.Run("increment", func(t *testing.T) {
		name := s.name("bad-inc")
		s.create(t, name, 5)
		for test, format := range merge(common, map[string]string{
			"by zero":          `{"{field}":0}`,
			"by minus zero":    `{"{field}":-0}`,
			"by too small":     `{"{field}":-9007199254740992}`,
			"by fraction only": `{"{field}":0.5}`,
			"name field":       `{"name":"x"}`,
			"escaped caps":     `{"\u0042y":1}`,
			"two fields":       `{"by":1,"By":1}`,
		}) {
			t.Run(test, func(t *testing.T) {
				b := body(format, "by", "", `"by":1`, `"By":1`)
				s.expectError(t, jsonBody(http.MethodPost, "/counters/"+name+"/increment", b), http.StatusBadRequest, "invalid_request")
			})
		}
		s.wantCount(t, name, 5) // no bad request changed it
	})

	t.Run("payload too large", func(t *testing.T) {
		const limit = 64 << 10
		pad := func(prefix, suffix string, size int) []byte {
			return []byte(prefix + strings.Repeat(" ", size-len(prefix)-len(suffix)) + suffix)
		}
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("chunked %t", chunked), func(t *testing.T) {
				// Exactly 64 KiB is accepted.
				name := s.name(fmt.Sprintf("big-%t", chunked))
				body := pad(fmt.Sprintf(`{"name":%q,"count":2`, name), "}", limit)
				r := s.do(t, request{method: http.MethodPost, target: "/counters", body: body, chunked: chunked})
				wantCounter(t, r, http.StatusCreated, name, 2)

				// One byte more is not, on any route with a body, and
				// changes nothing.
				tooBig := func(prefix string) []byte { return pad(prefix, "}", limit+1) }
				missing := s.name(fmt.Sprintf("big-missing-%t", chunked))
				reqs := map[string]request{
					"create":    {method: http.MethodPost, target: "/counters", body: tooBig(fmt.Sprintf(`{"name":%q`, missing))},
					"set":       {method: http.MethodPut, target: "/counters/" + missing, body: tooBig(`{"count":1`)},
					"increment": {method: http.MethodPost, target: "/counters/" + name + "/increment", body: tooBig(`{"by":1`)},
					"long string": {method: http.MethodPost, target: "/counters",
						body: []byte(fmt.Sprintf(`{"name":%q,"x":"%s"}`, missing, strings.Repeat("a", 2*limit)))},
				}
				for route, req := range reqs {
					t.Run(route, func(t *testing.T) {
						req.chunked = chunked
						req.contentType = "application/json"
						s.expectError(t, req, http.StatusRequestEntityTooLarge, "payload_too_large")
					})
				}
				s.wantMissing(t, missing)
				s.wantCount(t, name, 2)
			})
		}
	})
}

func (s *suite) testRouting(t *testing.T) {
	name := s.name("routing")
	s.create(t, name, 0)
	unknown := map[string]request{
		"unknown path":         {method: http.MethodGet, target: "/nope"},
		"similar path":         {method: http.MethodGet, target: "/counters-x"},
		"under health":         {method: http.MethodGet, target: "/health/x"},
		"after increment":      {method: http.MethodPost, target: "/counters/" + name + "/increment/x"},
		"unknown with POST":    {method: http.MethodPost, target: "/nope"},
		"unknown with DELETE":  {method: http.MethodDelete, target: "/nope/x"},
		"upper-case path":      {method: http.MethodGet, target: "/COUNTERS"},
		"double slash at root": {method: http.MethodGet, target: "//counters"},
	}
	for test, req := range unknown {
		t.Run(test, func(t *testing.T) {
			req.gatewayMayAnswer = true
			s.expectError(t, req, http.StatusNotFound, "not_found")
		})
	}
	wrongMethod := map[string]struct {
		req   request
		allow []string
	}{
		"POST /health":             {request{method: http.MethodPost, target: "/health"}, []string{"GET"}},
		"DELETE /counters":         {request{method: http.MethodDelete, target: "/counters"}, []string{"GET", "POST"}},
		"PUT /counters":            {request{method: http.MethodPut, target: "/counters", body: []byte(`{"count":1}`)}, []string{"GET", "POST"}},
		"PATCH /counters/{name}":   {request{method: http.MethodPatch, target: "/counters/" + name, body: []byte(`{"count":1}`)}, []string{"GET", "PUT", "DELETE"}},
		"POST /counters/{name}":    {request{method: http.MethodPost, target: "/counters/" + name}, []string{"GET", "PUT", "DELETE"}},
		"GET increment":            {request{method: http.MethodGet, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"PUT increment":            {request{method: http.MethodPut, target: "/counters/" + name + "/increment", body: []byte(`{"by":1}`)}, []string{"POST"}},
		"DELETE increment":         {request{method: http.MethodDelete, target: "/counters/" + name + "/increment"}, []string{"POST"}},
		"OPTIONS /counters/{name}": {request{method: http.MethodOptions, target: "/counters/" + name}, []string{"GET", "PUT", "DELETE"}},
		"lower-case get":           {request{method: "get", target: "/health"}, []string{"GET"}},
	}
	for test, tt := range wrongMethod {
		t.Run(test, func(t *testing.T) {
			tt.req.gatewayMayAnswer = true
			r := s.expectError(t, tt.req, http.StatusMethodNotAllowed, "method_not_allowed")
			if !s.opts.Gateway {
				wantAllow(t, r, tt.allow...)
			}
		})
	}
	s.wantCount(t, name, 0) // nothing above incremented it
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

func (s *suite) testAPIKeys(t *testing.T) {
	name := s.name("keys")
	s.create(t, name, 0)
	for _, key := range []struct {
		test  string
		noKey bool
		key   string
	}{{"no key", true, ""}, {"wrong key", false, "not-" + s.opts.APIKey}} {
		t.Run(key.test, func(t *testing.T) {
			admin := map[string]request{
				"create": jsonBody(http.MethodPost, "/counters", fmt.Sprintf(`{"name":%q}`, s.prefix+"keys-denied")),
				"list":   {method: http.MethodGet, target: "/counters"},
				"set":    jsonBody(http.MethodPut, "/counters/"+name, `{"count":5}`),
				"delete": {method: http.MethodDelete, target: "/counters/" + name},
			}
			for route, req := range admin {
				t.Run(route, func(t *testing.T) {
					req.noKey, req.apiKey = key.noKey, key.key
					// API Gateway checks keys itself, with a 403 of its own.
					req.gatewayMayAnswer = true
					s.expectError(t, req, http.StatusUnauthorized, "unauthorized")
				})
			}
			open := map[string]struct {
				req  request
				want int
			}{
				"health":    {request{method: http.MethodGet, target: "/health"}, http.StatusOK},
				"get":       {request{method: http.MethodGet, target: "/counters/" + name}, http.StatusOK},
				"increment": {request{method: http.MethodPost, target: "/counters/" + name + "/increment"}, http.StatusOK},
			}
			for route, tt := range open {
				t.Run(route, func(t *testing.T) {
					tt.req.noKey, tt.req.apiKey = key.noKey, key.key
					if r := s.do(t, tt.req); r.status != tt.want {
						t.Errorf("got %v, want %d", r, tt.want)
					}
				})
			}
		})
	}
	s.wantMissing(t, s.prefix+"keys-denied")
	s.wantCount(t, name, 2) // only the two open increments
}

// merge returns a map with the entries of a and b.
func merge(a, b map[string]string) map[string]string {
	m := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// jsonString returns s as a JSON string literal.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // never for a string
	}
	return string(b)
}
