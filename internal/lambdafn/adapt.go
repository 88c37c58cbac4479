package lambdafn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
)

// Adapter serves an http.Handler to API Gateway through
// aws-lambda-go-api-proxy, in either payload version: 1.0 (a REST API's
// proxy integration) and 2.0 (an HTTP API's). One function binary serves
// both, so the template's ApiType needs no second build. It implements
// lambda.Handler: Invoke tells the versions apart by the event's
// "version" field ("2.0"; REST API events have none). The API Gateway
// request context is on each request's context.
//
// An event that is not a request (a body marked base64 that is not, a
// missing or invalid method) is answered 400 invalid_request with the
// API's JSON error, instead of the function error (a 5xx behind API
// Gateway, and a mark against the error alarms) the adapter alone would
// return.
type Adapter struct {
	h      http.Handler
	logger *slog.Logger
	v1     core.RequestAccessor
	v2     core.RequestAccessorV2
}

// Adapt serves h as an Adapter.
func Adapt(h http.Handler) *Adapter { return adapt(h, nil) }

// adapt is Adapt with a logger for malformed events; nil discards them.
func adapt(h http.Handler, logger *slog.Logger) *Adapter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Adapter{h: h, logger: logger}
}

// Invoke serves one event of either payload version: what lambda.Start
// calls.
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var probe struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("lambdafn: the event is not a JSON object: %w", err)
	}
	var resp any
	var err error
	if probe.Version == "2.0" {
		var event events.APIGatewayV2HTTPRequest
		if err = json.Unmarshal(payload, &event); err == nil {
			resp, err = a.V2(ctx, event)
		}
	} else {
		var event events.APIGatewayProxyRequest
		if err = json.Unmarshal(payload, &event); err == nil {
			resp, err = a.V1(ctx, event)
		}
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// V1 serves a payload version 1.0 event (a REST API's proxy integration).
func (a *Adapter) V1(ctx context.Context, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	w := core.NewProxyResponseWriter()
	req, err := a.request(ctx, event.HTTPMethod, func() (*http.Request, error) { return a.v1.EventToRequestWithContext(ctx, event) })
	if err != nil {
		a.malformed(ctx, w, event.Path, event.IsBase64Encoded, event.Body, err)
	} else {
		a.h.ServeHTTP(w, req)
	}
	return w.GetProxyResponse()
}

// V2 serves a payload version 2.0 event (an HTTP API's). On a named stage
// the event's rawPath starts with the stage, which the routes do not know:
// it is taken off ($default has none).
func (a *Adapter) V2(ctx context.Context, event events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if stage := event.RequestContext.Stage; stage != "" && stage != "$default" {
		if rest, ok := strings.CutPrefix(event.RawPath, "/"+stage); ok && (rest == "" || rest[0] == '/') {
			event.RawPath = rest
		}
	}
	w := core.NewProxyResponseWriterV2()
	req, err := a.request(ctx, event.RequestContext.HTTP.Method, func() (*http.Request, error) { return a.v2.EventToRequestWithContext(ctx, event) })
	if err != nil {
		a.malformed(ctx, w, event.RawPath, event.IsBase64Encoded, event.Body, err)
	} else {
		a.h.ServeHTTP(w, req)
	}
	return w.GetProxyResponse()
}

// request turns an event into the request it stands for, as the adapter
// does. The method is checked first: on a bad one the adapter also prints
// plain-text lines to stdout, among the JSON log.
func (a *Adapter) request(_ context.Context, method string, convert func() (*http.Request, error)) (*http.Request, error) {
	if msg := malformedMethod(method); msg != "" {
		return nil, malformed(msg)
	}
	return convert()
}

// malformed logs and answers an event the adapter could not turn into a
// request.
func (a *Adapter) malformed(ctx context.Context, w http.ResponseWriter, path string, base64Body bool, body string, err error) {
	a.logger.LogAttrs(ctx, slog.LevelWarn, "malformed event", slog.String("path", path), slog.String("cause", err.Error()))
	httpapi.WriteError(w, counter.InvalidRequest, malformedMessage(base64Body, body, err))
}

// malformed is the error of an event whose method is not a method; it is
// its own message to the client.
type malformed string

func (m malformed) Error() string { return string(m) }

// malformedMethod describes what is wrong with an event's method, or
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
func malformedMessage(base64Body bool, body string, err error) string {
	if m, ok := err.(malformed); ok {
		return string(m)
	}
	if base64Body {
		if _, derr := base64.StdEncoding.DecodeString(body); derr != nil {
			return "the event's body is marked base64 but is not valid base64"
		}
	}
	return "the event is not a valid HTTP request"
}
