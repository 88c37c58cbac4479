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

	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// maxPayload is API Gateway's limit on a request body (10 MB).
const maxPayload = 10 << 20

// errPayloadTooLarge reports a request body over maxPayload.
var errPayloadTooLarge = errors.New("request body larger than 10 MB")

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
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
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

// httpEvent builds the HTTP API (payload version 2.0) event API Gateway
// would send for r on rt: header names in lower case, repeated headers and
// query parameters joined with commas, the stage in rawPath ($default has
// none); the route key of the $default route is $default.
func httpEvent(r *http.Request, rt route, params map[string]string, stage string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxPayload {
		return events.APIGatewayV2HTTPRequest{}, errPayloadTooLarge
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			cookies = append(cookies, vs...)
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var query map[string]string
	if q := parseQuery(r.URL.RawQuery); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	routeKey := rt.method + " " + rt.path
	if rt.isDefault() {
		routeKey = samtemplate.DefaultRoute
	}
	rawPath := r.URL.EscapedPath()
	if stage != "$default" {
		rawPath = "/" + stage + rawPath
	}
	now := time.Now().UTC()
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               rawPath,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "123456789012",
			Stage:        stage,
			RequestID:    newRequestID(),
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: "local",
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      rawPath,
				Protocol:  r.Proto,
				SourceIP:  ip,
				UserAgent: r.UserAgent(),
			},
		},
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

// parseQuery decodes a query string as API Gateway passes it on: each
// key=value pair in order, '+' as a space, valid %XX escapes decoded and a
// '%' that starts no valid escape kept as it is. url.ParseQuery would drop
// a pair it cannot decode, so that GET /counters?cursor=%%%garbage reached
// the function as a request for the first page; the function must see the
// cursor, and reject it, as it does behind API Gateway.
func parseQuery(raw string) map[string][]string {
	q := map[string][]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k = unescapeLenient(k)
		q[k] = append(q[k], unescapeLenient(v))
	}
	return q
}

func unescapeLenient(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	if v, err := url.PathUnescape(s); err == nil {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := url.PathUnescape(s[i : i+3]); err == nil {
				b.WriteString(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
	var resp struct {
		events.APIGatewayProxyResponse
		Cookies []string `json:"cookies"` // a payload version 2.0 response's
	}
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
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
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
