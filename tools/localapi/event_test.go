package localapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

func TestRouteMatch(t *testing.T) {
	tests := map[string]struct {
		route, path string
		want        map[string]string // nil: no match
	}{
		"literal":              {"/health", "/health", map[string]string{}},
		"literal mismatch":     {"/health", "/healthz", nil},
		"param":                {"/counters/{name}", "/counters/home", map[string]string{"name": "home"}},
		"param decoded":        {"/counters/{name}", "/counters/a%2Fb", map[string]string{"name": "a/b"}},
		"param is one segment": {"/counters/{name}", "/counters/a/b", nil},
		"empty param":          {"/counters/{name}", "/counters/", nil},
		"too short":            {"/counters/{name}/increment", "/counters/home", nil},
		"nested":               {"/counters/{name}/increment", "/counters/home/increment", map[string]string{"name": "home"}},
		"greedy":               {"/files/{proxy+}", "/files/a/b", map[string]string{"proxy": "a/b"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := newRoute(samtemplate.Route{Method: "GET", Path: tc.route}, "F").match(tc.path)
			if ok != (tc.want != nil) || (ok && !maps.Equal(got, tc.want)) {
				t.Errorf("match(%q) = %v, %v; want %v", tc.path, got, ok, tc.want)
			}
		})
	}
}

func TestProxyEvent(t *testing.T) {
	tests := map[string]struct {
		body       string
		wantBody   string
		wantBase64 bool
	}{
		"json body":   {`{"by":2}`, `{"by":2}`, false},
		"no body":     {"", "", false},
		"binary body": {"\xff\x00", "/wA=", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/counters/home/increment?x=1&x=2", strings.NewReader(tc.body))
			r.Header.Add("X-Multi", "a")
			r.Header.Add("X-Multi", "b")
			rt := newRoute(samtemplate.Route{Method: "POST", Path: "/counters/{name}/increment"}, "IncrementFunction")
			params, _ := rt.match(r.URL.EscapedPath())
			ev, err := proxyEvent(r, rt, params, "Prod")
			if err != nil {
				t.Fatal(err)
			}
			checks := map[string][2]string{
				"resource":    {ev.Resource, "/counters/{name}/increment"},
				"path":        {ev.Path, "/counters/home/increment"},
				"method":      {ev.HTTPMethod, "POST"},
				"name":        {ev.PathParameters["name"], "home"},
				"query":       {ev.QueryStringParameters["x"], "2"},
				"multi query": {strings.Join(ev.MultiValueQueryStringParameters["x"], ","), "1,2"},
				"header":      {ev.Headers["X-Multi"], "b"},
				"multi":       {strings.Join(ev.MultiValueHeaders["X-Multi"], ","), "a,b"},
				"stage":       {ev.RequestContext.Stage, "Prod"},
				"source ip":   {ev.RequestContext.Identity.SourceIP, "192.0.2.1"},
				"body":        {ev.Body, tc.wantBody},
			}
			for what, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %q, want %q", what, c[0], c[1])
				}
			}
			if ev.IsBase64Encoded != tc.wantBase64 {
				t.Errorf("isBase64Encoded = %v", ev.IsBase64Encoded)
			}
			if len(ev.RequestContext.RequestID) != 36 {
				t.Errorf("requestId %q", ev.RequestContext.RequestID)
			}
		})
	}
}

func TestWriteProxyResponse(t *testing.T) {
	tests := map[string]struct {
		payload    string
		wantErr    bool
		wantStatus int
		wantBody   string
		wantHeader string // X-A
	}{
		"plain":      {`{"statusCode":201,"headers":{"X-A":"1"},"body":"{}"}`, false, 201, "{}", "1"},
		"multi wins": {`{"statusCode":200,"headers":{"X-A":"1"},"multiValueHeaders":{"X-A":["2","3"]},"body":""}`, false, 200, "", "2"},
		"base64":     {`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, false, 200, "hi", ""},
		"no status":  {`{"body":"x"}`, true, 0, "", ""},
		"not json":   {`nope`, true, 0, "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := writeProxyResponse(rec, []byte(tc.payload))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody || rec.Header().Get("X-A") != tc.wantHeader {
				t.Errorf("got %d %q X-A=%q", rec.Code, rec.Body.String(), rec.Header().Get("X-A"))
			}
		})
	}
}

func TestIsErrorObject(t *testing.T) {
	tests := map[string]struct {
		payload string
		want    bool
	}{
		"error":    {`{"errorMessage":"boom","errorType":"X"}`, true},
		"response": {`{"statusCode":200,"body":"{\"errorMessage\":1}"}`, false},
		"other":    {`[]`, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isErrorObject([]byte(tc.payload)); got != tc.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

var _ http.Handler = (*Stack)(nil)

func TestParseQuery(t *testing.T) {
	tests := map[string]struct {
		raw  string
		want map[string][]string
	}{
		"plain":         {"limit=2&cursor=abc", map[string][]string{"limit": {"2"}, "cursor": {"abc"}}},
		"escapes":       {"cursor=a%2Bb+c&x=%C3%A9", map[string][]string{"cursor": {"a+b c"}, "x": {"é"}}},
		"repeated":      {"x=1&x=2", map[string][]string{"x": {"1", "2"}}},
		"undecodable":   {"cursor=%%%garbage", map[string][]string{"cursor": {"%%%garbage"}}},
		"partly valid":  {"cursor=%41%zz%", map[string][]string{"cursor": {"A%zz%"}}},
		"no value":      {"flag&x=", map[string][]string{"flag": {""}, "x": {""}}},
		"empty":         {"", map[string][]string{}},
		"empty members": {"&&x=1&", map[string][]string{"x": {"1"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := parseQuery(tc.raw)
			if !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("parseQuery(%q) = %q, want %q", tc.raw, got, tc.want)
			}
		})
	}
}

// TestGatewayAnswers: the local gateway answers with the template's
// gateway responses (which tools/samtemplate's TestDeploy holds to the
// contract), with the AllowedOrigins the stack is given.
func TestGatewayAnswers(t *testing.T) {
	root, err := FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"), map[string]any{"AllowedOrigins": "https://example.com"})
	if err != nil {
		t.Fatal(err)
	}
	responses, err := gatewayResponses(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{responses: responses}
	tests := map[string]struct {
		status     int
		code       string
		retryAfter bool
	}{
		invalidAPIKey:       {401, "unauthorized", false},
		missingAuthToken:    {404, "not_found", false},
		requestTooLarge:     {413, "payload_too_large", false},
		integrationTimedOut: {503, "unavailable", true},
		default5XX:          {503, "unavailable", true},
	}
	for typ, want := range tests {
		t.Run(typ, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.answer(rec, typ)
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			h := rec.Header()
			if rec.Code != want.status || body.Error.Code != want.code || body.Error.Message == "" ||
				h.Get("Content-Type") != "application/json" || h.Get("Access-Control-Allow-Origin") != "https://example.com" ||
				(h.Get("Retry-After") != "") != want.retryAfter {
				t.Errorf("got %d %v %s; want %d %s, CORS for https://example.com, Retry-After %v", rec.Code, h, rec.Body, want.status, want.code, want.retryAfter)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff, as on every answer", got)
			}
		})
	}
	t.Run("preflight", func(t *testing.T) {
		s.opts.AllowedOrigins = "https://example.com"
		rec := httptest.NewRecorder()
		s.preflight(rec, []string{"GET", "PUT"})
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("got X-Content-Type-Options %q, want nosniff, as on every answer", got)
		}
	})
}

// TestGatewayAnswersFallBack: without its own gateway response, an answer
// is the template's DEFAULT_4XX/5XX, else API Gateway's built-in one.
func TestGatewayAnswersFallBack(t *testing.T) {
	tmpl, err := samtemplate.Parse([]byte(`
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      GatewayResponses:
        DEFAULT_5XX:
          StatusCode: "503"
          ResponseTemplates:
            application/json: '{"five":1}'
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	responses, err := gatewayResponses(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]string{
		integrationTimedOut: `503 {"five":1}`,
		invalidAPIKey:       `403 {"message":"Forbidden"}`,
		missingAuthToken:    `403 {"message":"Missing Authentication Token"}`,
	} {
		if got := fmt.Sprintf("%d %s", responses[typ].Status, responses[typ].Body); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}
