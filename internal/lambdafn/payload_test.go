package lambdafn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
)

// TestPayloadVersions drives each route's function with its payload
// version 2.0 event (events/http/<route>.json, an HTTP API's) and its
// version 1.0 event (events/<route>.json, a REST API's), each through the
// bytes Lambda hands the function (Adapter.Invoke), on stores holding the
// same counters: the answers must be the same (status, every header,
// body), times aside.
func TestPayloadVersions(t *testing.T) {
	for _, route := range httpapi.Routes {
		t.Run(route.Name, func(t *testing.T) {
			v1 := invoke(t, route.Name, filepath.Join("..", "..", "events", route.Name+".json"))
			v2 := invoke(t, route.Name, filepath.Join("..", "..", "events", "http", route.Name+".json"))
			if v1.status != v2.status {
				t.Errorf("status: 1.0 %d, 2.0 %d", v1.status, v2.status)
			}
			if v1.status/100 != 2 {
				t.Errorf("status %d, want 2xx; body %s", v1.status, v1.body)
			}
			if v1.body != v2.body {
				t.Errorf("body:\n1.0 %s\n2.0 %s", v1.body, v2.body)
			}
			for name := range v1.headers {
				if v1.headers.Get(name) != v2.headers.Get(name) {
					t.Errorf("%s: 1.0 %q, 2.0 %q", name, v1.headers.Get(name), v2.headers.Get(name))
				}
			}
			for name := range v2.headers {
				if _, ok := v1.headers[name]; !ok {
					t.Errorf("%s: only in 2.0 (%q)", name, v2.headers.Get(name))
				}
			}
			if v1.headers.Get("Content-Type") == "" && v1.body != "" {
				t.Error("no Content-Type")
			}
		})
	}
}

// TestPayloadVersionEvents checks that each events/http/<route>.json is
// the route's: an HTTP API payload 2.0 event on the named stage Prod.
func TestPayloadVersionEvents(t *testing.T) {
	for _, route := range httpapi.Routes {
		data, err := os.ReadFile(filepath.Join("..", "..", "events", "http", route.Name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var event events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(data, &event); err != nil {
			t.Fatalf("%s: %v", route.Name, err)
		}
		if want := route.Method + " " + route.Path; event.Version != "2.0" || event.RouteKey != want || event.RequestContext.HTTP.Method != route.Method {
			t.Errorf("%s: version %q, routeKey %q, method %q; want 2.0, %q", route.Name, event.Version, event.RouteKey, event.RequestContext.HTTP.Method, want)
		}
		if event.RequestContext.Stage != "Prod" || !strings.HasPrefix(event.RawPath, "/Prod/") {
			t.Errorf("%s: stage %q, rawPath %q; want Prod and the path under /Prod/", route.Name, event.RequestContext.Stage, event.RawPath)
		}
	}
}

// answer is a proxy response of either version, headers canonical.
type answer struct {
	status  int
	headers http.Header
	body    string
}

// times matches the RFC 3339 times in a body, which differ between two
// runs.
var times = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// invoke serves the event in file through the route's function, as Lambda
// would hand it over, on a memory store holding the counter home at 5
// (none for create).
func invoke(t *testing.T, route, file string) answer {
	t.Helper()
	payload, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	if route != httpapi.RouteCreate {
		if _, err := store.Apply(context.Background(), counter.Create("home", 5)); err != nil {
			t.Fatal(err)
		}
	}
	h, err := httpapi.New(store, httpapi.Options{Routes: []string{route}, Pages: pages.New()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambdafn.Adapt(h).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("%s: function error %v", file, err)
	}
	var resp struct {
		StatusCode        int                 `json:"statusCode"`
		Headers           map[string]string   `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Body              string              `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s: answer %s: %v", file, out, err)
	}
	if resp.IsBase64Encoded {
		t.Errorf("%s: the body is base64-encoded", file)
	}
	a := answer{status: resp.StatusCode, headers: http.Header{}, body: times.ReplaceAllString(resp.Body, "<time>")}
	for k, v := range resp.Headers {
		a.headers.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		a.headers.Set(k, strings.Join(vs, ","))
	}
	for _, k := range []string{"Etag", "Last-Modified"} {
		if v := a.headers.Get(k); v != "" {
			a.headers.Set(k, times.ReplaceAllString(v, "<time>"))
		}
	}
	return a
}
