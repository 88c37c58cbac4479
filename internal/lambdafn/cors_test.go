package lambdafn_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

// TestCORSFromEnvironment checks that CORS_ALLOWED_ORIGINS, which the
// template sets from the same parameter as the API's Cors, reaches the
// function's responses (API Gateway answers only the preflight).
func TestCORSFromEnvironment(t *testing.T) {
	tests := map[string]struct {
		allowed, origin, want string
	}{
		"any origin":       {allowed: "*", origin: "https://a.example", want: "*"},
		"listed origin":    {allowed: "https://a.example, https://b.example", origin: "https://b.example", want: "https://b.example"},
		"unlisted origin":  {allowed: "https://a.example", origin: "https://evil.example", want: ""},
		"no origin header": {allowed: "*", origin: "", want: ""},
		"unset: any":       {allowed: "", origin: "https://a.example", want: "*"},
		"cors off":         {allowed: "none", origin: "https://a.example", want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"STORE": "memory", "CORS_ALLOWED_ORIGINS": tc.allowed}
			h, err := lambdafn.New(context.Background(), lambdafn.Function{Routes: []string{httpapi.RouteHealth}}, func(k string) string { return env[k] }, nil)
			if err != nil {
				t.Fatal(err)
			}
			event := loadEvent(t, httpapi.RouteHealth)
			event.Headers = map[string]string{}
			event.MultiValueHeaders = map[string][]string{}
			if tc.origin != "" {
				event.Headers["Origin"] = tc.origin
				event.MultiValueHeaders["Origin"] = []string{tc.origin}
			}
			resp, err := h.V1(context.Background(), event)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			if got := header(resp, "Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.want)
			}
		})
	}
}

func header(resp events.APIGatewayProxyResponse, name string) string {
	if v := http.Header(resp.MultiValueHeaders).Get(name); v != "" {
		return v
	}
	return resp.Headers[name]
}
