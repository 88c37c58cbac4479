package localapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// maxPayload is API Gateway's limit on a request body (10 MB).
const maxPayload = 10 << 20

// errPayloadTooLarge reports a request body over maxPayload.
var errPayloadTooLarge = errors.New("request body larger than 10 MB")

// route is one API Gateway method from the template, served by one function.
type route struct {
	method, path   string // path as in the template, e.g. /counters/{name}
	segments       []string
	function       string // logical ID
	apiKeyRequired bool
}

func newRoute(method, path, function string, apiKeyRequired bool) route {
	return route{method: method, path: path, segments: splitPath(path), function: function, apiKeyRequired: apiKeyRequired}
}

// match reports whether the escaped request path fits the route's path and
// returns its path parameters, decoded. "{x}" matches one non-empty segment
// and "{x+}" the rest of the path, as in API Gateway.
func (rt route) match(escapedPath string) (map[string]string, bool) {
	segs := splitPath(escapedPath)
	params := map[string]string{}
	for i, want := range rt.segments {
		if strings.HasPrefix(want, "{") && strings.HasSuffix(want, "+}") {
			if i >= len(segs) {
				return nil, false
			}
			rest, err := url.PathUnescape(strings.Join(segs[i:], "/"))
			if err != nil {
				return nil, false
			}
			params[want[1:len(want)-2]] = rest
			return params, true
		}
		if i >= len(segs) || segs[i] == "" {
			return nil, false
		}
		if strings.HasPrefix(want, "{") && strings.HasSuffix(want, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, false
			}
			params[want[1:len(want)-1]] = v
			continue
		}
		if segs[i] != want {
			return nil, false
		}
	}
	if len(segs) != len(rt.segments) {
		return nil, false
	}
	return params, true
}

func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// proxyEvent builds the REST API (v1) proxy event API Gateway would send
// for r on rt. A body that is not valid UTF-8 is base64-encoded.
func proxyEvent(r *http.Request, rt route, params map[string]string, stage string) (events.APIGatewayProxyRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return events.APIGatewayProxyRequest{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxPayload {
		return events.APIGatewayProxyRequest{}, errPayloadTooLarge
	}
	headers := map[string]string{}
	multiHeaders := map[string][]string{}
	for k, vs := range r.Header {
		headers[k] = vs[len(vs)-1] // API Gateway keeps the last value
		multiHeaders[k] = vs
	}
	if r.Host != "" {
		headers["Host"] = r.Host
		multiHeaders["Host"] = []string{r.Host}
	}
	var query map[string]string
	var multiQuery map[string][]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		multiQuery = map[string][]string{}
		for k, vs := range q {
			query[k] = vs[len(vs)-1]
			multiQuery[k] = vs
		}
	}
	if len(params) == 0 {
		params = nil
	}
	ev := events.APIGatewayProxyRequest{
		Resource:                        rt.path,
		Path:                            r.URL.EscapedPath(),
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multiHeaders,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  params,
		RequestContext:                  requestContext(r, rt, stage),
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return ev, nil
}

func requestContext(r *http.Request, rt route, stage string) events.APIGatewayProxyRequestContext {
	now := time.Now().UTC()
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return events.APIGatewayProxyRequestContext{
		AccountID:         "123456789012",
		ResourceID:        "local",
		Stage:             stage,
		DomainName:        r.Host,
		DomainPrefix:      "local",
		RequestID:         newRequestID(),
		ExtendedRequestID: newRequestID(),
		Protocol:          r.Proto,
		Identity: events.APIGatewayRequestIdentity{
			SourceIP:  ip,
			UserAgent: r.UserAgent(),
		},
		ResourcePath:     rt.path,
		Path:             "/" + stage + r.URL.EscapedPath(),
		HTTPMethod:       r.Method,
		RequestTime:      now.Format("02/Jan/2006:15:04:05 -0700"),
		RequestTimeEpoch: now.UnixMilli(),
		APIID:            "local",
	}
}

// newRequestID returns a random UUID (version 4), like API Gateway's.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeProxyResponse writes a function's proxy response to w. A response
// that is not one (no statusCode, bad base64) is an error, which API
// Gateway answers with 502.
func writeProxyResponse(w http.ResponseWriter, payload []byte) error {
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		return fmt.Errorf("malformed proxy response: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("malformed proxy response: statusCode %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("malformed proxy response: body: %w", err)
		}
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders { // API Gateway merges both; multi-value wins
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

// isErrorObject reports whether an invocation result is a function error
// ({"errorMessage": ..., "errorType": ...}) rather than a proxy response.
func isErrorObject(payload []byte) bool {
	var obj struct {
		ErrorMessage *string `json:"errorMessage"`
		StatusCode   *int    `json:"statusCode"`
	}
	return json.Unmarshal(payload, &obj) == nil && obj.ErrorMessage != nil && obj.StatusCode == nil
}
