package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// API Gateway's limits that the local gateway applies as it does.
const (
	// integrationTimeout is how long API Gateway waits for a function.
	integrationTimeout = 29 * time.Second
	// maxInvokePayload is Lambda's limit on a synchronous invocation's
	// event; API Gateway answers a bigger one as an invocation failure.
	maxInvokePayload = 6 << 20
)

// The gateway responses (template.yaml: the Api's GatewayResponses) the
// local gateway can give, as API Gateway gives them.
const (
	invalidAPIKey       = "INVALID_API_KEY"
	missingAuthToken    = "MISSING_AUTHENTICATION_TOKEN" // no route for this path and method
	requestTooLarge     = "REQUEST_TOO_LARGE"
	integrationTimedOut = "INTEGRATION_TIMEOUT"
	default5XX          = "DEFAULT_5XX" // a function error, a malformed answer, a refused invocation
)

// builtinResponses are API Gateway's answers where a template does not
// set its own, nor a DEFAULT_4XX or DEFAULT_5XX: status and message.
var builtinResponses = map[string]struct {
	status  int
	message string
}{
	invalidAPIKey:       {http.StatusForbidden, "Forbidden"},
	missingAuthToken:    {http.StatusForbidden, "Missing Authentication Token"},
	requestTooLarge:     {http.StatusRequestEntityTooLarge, "Request Too Long"},
	integrationTimedOut: {http.StatusGatewayTimeout, "Endpoint request timed out"},
	default5XX:          {http.StatusBadGateway, "Internal server error"},
}

// gatewayResponses resolves each response the local gateway can give from
// the template's GatewayResponses as API Gateway does: the type's own, else
// DEFAULT_4XX or DEFAULT_5XX by the type's default status, else the
// built-in answer ({"message": ...}).
func gatewayResponses(tmpl *samtemplate.Template) (map[string]samtemplate.GatewayResponse, error) {
	defined, err := tmpl.GatewayResponses()
	if err != nil {
		return nil, err
	}
	out := map[string]samtemplate.GatewayResponse{}
	for typ, builtin := range builtinResponses {
		if r, ok := defined[typ]; ok {
			out[typ] = r
			continue
		}
		fallback := "DEFAULT_4XX"
		if builtin.status >= 500 {
			fallback = default5XX
		}
		if r, ok := defined[fallback]; ok {
			out[typ] = r
			continue
		}
		body, _ := json.Marshal(map[string]string{"message": builtin.message})
		out[typ] = samtemplate.GatewayResponse{Status: builtin.status, Body: string(body)}
	}
	return out, nil
}

// httpAPIResponses are an HTTP API's own answers, which it does not let a
// template change: its JSON message, and its status.
var httpAPIResponses = map[string]samtemplate.GatewayResponse{
	invalidAPIKey:       {Status: http.StatusForbidden, Body: `{"message":"Forbidden"}`}, // not given: the functions check keys
	missingAuthToken:    {Status: http.StatusNotFound, Body: `{"message":"Not Found"}`},  // not given: the $default route takes it
	requestTooLarge:     {Status: http.StatusRequestEntityTooLarge, Body: `{"message":"Request Entity Too Large"}`},
	integrationTimedOut: {Status: http.StatusServiceUnavailable, Body: `{"message":"Service Unavailable"}`},
	default5XX:          {Status: http.StatusInternalServerError, Body: `{"message":"Internal Server Error"}`},
}

// ServeHTTP routes r as API Gateway would and invokes the function.
func (s *Stack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &httpapi.StatusRecorder{ResponseWriter: w}
	fn := s.serve(rec, r)
	s.logger.Info("request", "method", r.Method, "path", r.URL.Path, "function", fn, "status", rec.Status, "ms", float64(time.Since(start).Microseconds())/1000)
}

// serve answers r and returns the function that served it, if any.
func (s *Stack) serve(w http.ResponseWriter, r *http.Request) string {
	if s.httpAPI {
		return s.serveHTTPAPI(w, r)
	}
	path := r.URL.EscapedPath()
	var methods []string
	for _, rt := range s.routes {
		params, ok := rt.match(path)
		if !ok {
			continue
		}
		if rt.method != r.Method {
			methods = append(methods, rt.method)
			continue
		}
		if rt.apiKeyRequired && !s.validKey(r.Header.Get(httpapi.APIKeyHeader)) {
			s.answer(w, invalidAPIKey)
			return ""
		}
		s.invoke(w, r, rt, params)
		return rt.function
	}
	if len(methods) > 0 && isPreflight(r) {
		// The template's Cors gives each path an OPTIONS method (a mock
		// integration). API Gateway answers any OPTIONS with it; here only
		// a preflight is (docs/lambda.md lists the difference).
		s.preflight(w, methods)
		return ""
	}
	// API Gateway answers an unknown path and an unserved method alike.
	s.answer(w, missingAuthToken)
	return ""
}

// serveHTTPAPI answers r as an HTTP API with the template's routes does:
// a CORS preflight from its CorsConfiguration (the template's
// AllowedOrigins), any other request to the route of its method and path,
// or else to the $default route; no key check (the functions do it).
func (s *Stack) serveHTTPAPI(w http.ResponseWriter, r *http.Request) string {
	if isPreflight(r) && s.opts.AllowedOrigins != config.CORSOff {
		h := w.Header()
		if origin := r.Header.Get("Origin"); s.opts.AllowedOrigins == "*" || slices.Contains(strings.Split(s.opts.AllowedOrigins, ","), origin) {
			h.Set("Access-Control-Allow-Origin", s.opts.AllowedOrigins)
			h.Set("Access-Control-Allow-Methods", "GET,POST,PUT,PATCH,DELETE,OPTIONS")
			h.Set("Access-Control-Allow-Headers", "content-type,x-api-key,idempotency-key")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return ""
	}
	path := r.URL.EscapedPath()
	for _, rt := range s.routes {
		if params, ok := rt.match(path); ok && rt.method == r.Method {
			s.invoke(w, r, rt, params)
			return rt.function
		}
	}
	if s.defaultRoute == nil {
		s.answer(w, missingAuthToken)
		return ""
	}
	s.invoke(w, r, *s.defaultRoute, nil)
	return s.defaultRoute.function
}

// answer writes one of API Gateway's own answers, as the template sets it.
func (s *Stack) answer(w http.ResponseWriter, typ string) {
	resp := s.responses[typ]
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	_, _ = w.Write([]byte(resp.Body))
}

// validKey reports whether key is one of the configured keys, compared as
// the service compares them (httpapi.APIKeys: SHA-256 digests in constant
// time, so neither a key's content nor its length leaks). With no keys
// configured every request passes.
func (s *Stack) validKey(key string) bool {
	return s.keys.Len() == 0 || s.keys.Valid(key)
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers an OPTIONS request as the template's Cors setting makes
// API Gateway do.
func (s *Stack) preflight(w http.ResponseWriter, methods []string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", s.opts.AllowedOrigins)
	h.Set("Access-Control-Allow-Methods", strings.Join(append(methods, http.MethodOptions), ","))
	h.Set("Access-Control-Allow-Headers", "Content-Type,X-Api-Key,Idempotency-Key")
	h.Set("Access-Control-Max-Age", strconv.Itoa(600))
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff") // as on every answer of the service's
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
}

// invoke sends r to the function of rt and writes its response. Failures
// are answered as API Gateway answers them (the template's gateway
// responses): a function error, a malformed response or an invocation
// Lambda refuses is DEFAULT_5XX, a function slower than API Gateway's
// timeout INTEGRATION_TIMEOUT.
func (s *Stack) invoke(w http.ResponseWriter, r *http.Request, rt route, params map[string]string) {
	var ev any
	var err error
	if rt.httpAPI {
		ev, err = httpEvent(r, rt, params, s.opts.Stage)
	} else {
		ev, err = proxyEvent(r, rt, params, s.opts.Stage)
	}
	if errors.Is(err, errPayloadTooLarge) {
		s.answer(w, requestTooLarge)
		return
	}
	if err != nil {
		// The client's body could not be read: it has gone away.
		s.logger.Info("request body", "err", err)
		s.answer(w, default5XX)
		return
	}
	payload, err := json.Marshal(ev)
	if err != nil || len(payload) > maxInvokePayload {
		s.logger.Error("invoke refused", "function", rt.function, "bytes", len(payload), "err", err)
		s.answer(w, default5XX)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), integrationTimeout)
	defer cancel()
	out, fnErr, err := s.pools[rt.function].invoke(ctx, s.client, payload)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.answer(w, integrationTimedOut)
	case err != nil:
		s.logger.Error("invoke failed", "function", rt.function, "err", err)
		s.answer(w, default5XX)
	case fnErr:
		s.logger.Error("function error", "function", rt.function, "error", string(out))
		s.answer(w, default5XX)
	default:
		if err := writeProxyResponse(w, out); err != nil {
			s.logger.Error("bad function response", "function", rt.function, "err", err)
			s.answer(w, default5XX)
		}
	}
}
