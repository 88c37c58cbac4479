package apitest

// The checks of what a request may hold: names in paths and bodies, and
// the JSON bodies of each route.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
)

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
				jsonBody(http.MethodPatch, target, `{"by":1}`),
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
		// A member given twice, even with the same value: a proxy or a
		// validator that reads the first would see another request than
		// the one a last-wins decoder applies.
		"duplicate field":      `{{valid},"{field}":1}`,
		"duplicate last wider": `{{others}"{field}":1,"{field}":1000000}`,
		"duplicate escaped":    `{{valid},"\u00{hex}{rest}":1}`,
	}
	body := func(format, field, others, valid, caps string) string {
		// {hex}{rest} is field with its first letter escaped as \u00XX.
		hex := fmt.Sprintf("%02x", field[0])
		return strings.NewReplacer("{field}", field, "{others}", others, "{valid}", valid, "{caps}", caps,
			"{hex}", hex, "{rest}", field[1:]).Replace(format)
	}
	t.Run("create", func(t *testing.T) {
		for test, format := range merge(common, map[string]string{
			"negative count":  `{{others}"{field}":-1}`,
			"minus zero":      `{{others}"{field}":-0.0}`,
			"name not string": `{"name":5}`,
			"name array":      `{"name":["a"]}`,
			"name object":     `{"name":{}}`,
			"duplicate name":  `{{others}{others}"count":1}`,
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
	// A bad body is 400 before the open increment's bound is checked.
	byBodies := map[string]string{
		"by zero":          `{"{field}":0}`,
		"by minus zero":    `{"{field}":-0}`,
		"by too small":     `{"{field}":-9007199254740992}`,
		"by fraction only": `{"{field}":0.5}`,
		"name field":       `{"name":"x"}`,
		"escaped caps":     `{"\u0042y":1}`,
		"two fields":       `{"by":1,"By":1}`,
	}
	t.Run("increment", func(t *testing.T) {
		name := s.name("bad-inc")
		s.create(t, name, 5)
		for test, format := range merge(common, byBodies) {
			t.Run(test, func(t *testing.T) {
				b := body(format, "by", "", `"by":1`, `"By":1`)
				s.expectError(t, jsonBody(http.MethodPost, "/counters/"+name+"/increment", b), http.StatusBadRequest, "invalid_request")
			})
		}
		s.wantCount(t, name, 5) // no bad request changed it
	})
	t.Run("adjust", func(t *testing.T) {
		name := s.name("bad-adj")
		s.create(t, name, 5)
		for test, format := range merge(merge(common, byBodies), map[string]string{
			"empty body":      ``,
			"whitespace body": " \n ",
			"empty object":    `{}`,
		}) {
			t.Run(test, func(t *testing.T) {
				b := body(format, "by", "", `"by":1`, `"By":1`)
				s.expectError(t, jsonBody(http.MethodPatch, "/counters/"+name, b), http.StatusBadRequest, "invalid_request")
			})
		}
		s.wantCount(t, name, 5) // no bad request changed it
	})

	t.Run("payload too large", func(t *testing.T) {
		const limit = httpapi.MaxBodyBytes
		pad := func(prefix, suffix string, size int) []byte {
			return []byte(prefix + strings.Repeat(" ", size-len(prefix)-len(suffix)) + suffix)
		}
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("chunked %t", chunked), func(t *testing.T) {
				// Exactly the limit is accepted.
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
					"adjust":    {method: http.MethodPatch, target: "/counters/" + name, body: tooBig(`{"by":1`)},
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
