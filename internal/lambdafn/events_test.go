package lambdafn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/pages"
)

// TestEventFixtures feeds each events/<route>.json (the fixtures for
// `sam local invoke -e`) to that route's handler in-process, as Lambda would.
func TestEventFixtures(t *testing.T) {
	tests := map[string]struct {
		wantStatus int
		wantBody   string // a fragment of the body
	}{
		httpapi.RouteHealth:    {http.StatusOK, `"status":"ok"`},
		httpapi.RouteCreate:    {http.StatusCreated, `"count":10`},
		httpapi.RouteList:      {http.StatusOK, `"name":"home"`},
		httpapi.RouteGet:       {http.StatusOK, `"count":5`},
		httpapi.RouteSet:       {http.StatusOK, `"count":42`},
		httpapi.RouteAdjust:    {http.StatusOK, `"count":3`},
		httpapi.RouteIncrement: {http.StatusOK, `"count":6`},
		httpapi.RouteDelete:    {http.StatusNoContent, ""},
		// No Visitors here (as UNIQUES=false): the points leave uniques out.
		httpapi.RouteStats: {http.StatusOK, `"period":"hour","points":[{"start":"2026-11-27T00:00:00Z","hits":0,"bots":0}`},

		httpapi.RouteBadge:   {http.StatusOK, ">views</text>"},
		httpapi.RouteHit:     {http.StatusOK, ">6</text>"},
		httpapi.RouteShields: {http.StatusOK, `"message":"5"`},

		httpapi.RouteDashboard:       {http.StatusOK, "<title>hitcounter dashboard</title>"},
		httpapi.RouteDashboardScript: {http.StatusOK, "sessionStorage"},
		httpapi.RouteDashboardStyle:  {http.StatusOK, ":focus-visible"},
		httpapi.RouteEmbed:           {http.StatusOK, "data-counter"},
	}
	// The content types of the routes that do not answer JSON.
	contentTypes := map[string]string{
		httpapi.RouteBadge:           "image/svg+xml",
		httpapi.RouteHit:             "image/svg+xml",
		httpapi.RouteDashboard:       "text/html",
		httpapi.RouteDashboardScript: "text/javascript",
		httpapi.RouteDashboardStyle:  "text/css",
		httpapi.RouteEmbed:           "text/javascript",
	}
	if len(tests) != len(httpapi.Routes) {
		t.Fatalf("%d cases for %d routes", len(tests), len(httpapi.Routes))
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			route, _ := httpapi.RouteNamed(name)
			event := loadEvent(t, name)
			if event.HTTPMethod != route.Method || event.Resource != route.Path {
				t.Errorf("event is %s %s, route is %s %s", event.HTTPMethod, event.Resource, route.Method, route.Path)
			}
			if event.RequestContext.Stage != "Prod" {
				t.Errorf("stage %q, want Prod", event.RequestContext.Stage)
			}
			store := memstore.New()
			if name != httpapi.RouteCreate {
				if _, err := store.Apply(context.Background(), counter.Create("home", 5)); err != nil {
					t.Fatal(err)
				}
			}
			h, err := httpapi.New(store, httpapi.Options{Routes: []string{name}, Pages: pages.New()})
			if err != nil {
				t.Fatal(err)
			}
			handler := lambdafn.Adapt(h)
			resp, err := handler.V1(context.Background(), event)
			if err != nil {
				t.Fatalf("handler: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if !strings.Contains(resp.Body, tc.wantBody) {
				t.Errorf("body %s, want it to contain %s", resp.Body, tc.wantBody)
			}
			wantType := "application/json"
			if ct, ok := contentTypes[name]; ok {
				wantType = ct
			}
			if ct := contentType(resp); resp.Body != "" && !strings.HasPrefix(ct, wantType) {
				t.Errorf("Content-Type %q, want %s", ct, wantType)
			}
			if resp.IsBase64Encoded {
				t.Error("the body is base64-encoded: API Gateway would need binary media types")
			}
		})
	}
}

// contentType reads Content-Type from either header map of a proxy response.
func contentType(resp events.APIGatewayProxyResponse) string {
	if ct := http.Header(resp.MultiValueHeaders).Get("Content-Type"); ct != "" {
		return ct
	}
	return resp.Headers["Content-Type"]
}

func loadEvent(t *testing.T, name string) events.APIGatewayProxyRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var event events.APIGatewayProxyRequest
	if err := json.Unmarshal(data, &event); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return event
}
