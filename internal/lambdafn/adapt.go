package lambdafn

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
)

// ProxyHandler is what a function hands to lambda.Start: a REST API (v1)
// proxy event in, a proxy response out.
type ProxyHandler func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// Adapt serves h as a ProxyHandler through aws-lambda-go-api-proxy; the API
// Gateway request context is on each request's context. An event that is
// not a request (a body marked base64 that is not, a missing or invalid
// httpMethod) is answered 400 invalid_request with the API's JSON error,
// instead of the function error (a 502 behind API Gateway, and a mark
// against the error alarms) the adapter alone would return.
func Adapt(h http.Handler) ProxyHandler { return adapt(h, nil) }

// adapt is Adapt with a logger for malformed events; nil discards them.
func adapt(h http.Handler, logger *slog.Logger) ProxyHandler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var accessor core.RequestAccessor
	return func(ctx context.Context, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		w := core.NewProxyResponseWriter()
		if req, err := toRequest(ctx, &accessor, event); err != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "malformed event", slog.String("path", event.Path), slog.String("cause", err.Error()))
			httpapi.WriteError(w, counter.InvalidRequest, malformedMessage(event, err))
		} else {
			h.ServeHTTP(w, req)
		}
		return w.GetProxyResponse()
	}
}

// toRequest turns event into the request it stands for, as the adapter
// does. The method is checked first: on a bad one the adapter also prints
// plain-text lines to stdout, among the JSON log.
func toRequest(ctx context.Context, accessor *core.RequestAccessor, event events.APIGatewayProxyRequest) (*http.Request, error) {
	if msg := malformedMethod(event.HTTPMethod); msg != "" {
		return nil, malformed(msg)
	}
	return accessor.EventToRequestWithContext(ctx, event)
}

// malformed is the error of an event whose httpMethod is not a method; it
// is its own message to the client.
type malformed string

func (m malformed) Error() string { return string(m) }

// malformedMethod describes what is wrong with an event's httpMethod, or
// returns "" if it is an HTTP method token (RFC 9110, section 9.1).
func malformedMethod(method string) string {
	if method == "" {
		return "the event has no httpMethod"
	}
	for i := 0; i < len(method); i++ {
		if c := method[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return "the event's httpMethod is not an HTTP method"
		}
	}
	return ""
}

// malformedMessage is what the client is told about an event the adapter
// could not turn into a request: the cause in the API's words, never the
// adapter's error text.
func malformedMessage(event events.APIGatewayProxyRequest, err error) string {
	if m, ok := err.(malformed); ok {
		return string(m)
	}
	if event.IsBase64Encoded {
		if _, derr := base64.StdEncoding.DecodeString(event.Body); derr != nil {
			return "the event's body is marked base64 but is not valid base64"
		}
	}
	return "the event is not a valid HTTP request"
}
