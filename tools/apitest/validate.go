package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hitcounter/hitcounter/docs"
)

// Validator checks HTTP responses against the OpenAPI document
// (docs/openapi.yaml). It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	// For requests no operation of the document serves: an unknown path
	// (404, or 400 invalid_name for a path shaped like /counters/{name}
	// whose name is not one) and a known path with another method (405).
	unknownPath, wrongMethod *openapi3.Operation
}

var loadValidator = sync.OnceValues(func() (*Validator, error) {
	return NewValidator(docs.OpenAPI)
})

// DefaultValidator returns the Validator of docs/openapi.yaml, loaded and
// checked once per process.
func DefaultValidator() (*Validator, error) { return loadValidator() }

// NewValidator loads an OpenAPI 3 document, checks that it is valid, and
// returns a Validator for it.
func NewValidator(doc []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	if err := t.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("route OpenAPI document: %w", err)
	}
	component := func(name string) *openapi3.ResponseRef {
		ref := t.Components.Responses[name]
		if ref == nil {
			err = errors.Join(err, fmt.Errorf("OpenAPI document: no components/responses/%s", name))
		}
		return ref
	}
	unknownPath := openapi3.NewOperation()
	unknownPath.Responses = openapi3.NewResponses(
		openapi3.WithStatus(http.StatusBadRequest, component("InvalidName")),
		openapi3.WithStatus(http.StatusNotFound, component("UnknownPath")),
	)
	wrongMethod := openapi3.NewOperation()
	wrongMethod.Responses = openapi3.NewResponses(
		openapi3.WithStatus(http.StatusMethodNotAllowed, component("MethodNotAllowed")),
	)
	for _, op := range []*openapi3.Operation{unknownPath, wrongMethod} {
		// Access control and rate limits may answer before routing does.
		op.Responses.Set("401", component("Unauthorized"))
		op.Responses.Set("429", component("RateLimited"))
	}
	if err != nil {
		return nil, err
	}
	return &Validator{doc: t, router: router, unknownPath: unknownPath, wrongMethod: wrongMethod}, nil
}

// Document returns the loaded OpenAPI document; callers must not change it.
func (v *Validator) Document() *openapi3.T { return v.doc }

// Validate checks one response to method and target (the escaped path of
// the request relative to the API root, e.g. "/counters/a%2Fb", with an
// optional query) against the document: the status must be one the
// operation documents, its headers and body must match the schemas, a
// response with a body must be JSON with Content-Type application/json
// unless the operation documents another media type for it (SVG, HTML), and
// one the document gives no content (204) must have no body. An answer to
// HEAD must have no body; its status and headers are checked as documented.
// Every answer carries X-Content-Type-Options: nosniff, and a JSON body
// holds no raw '<', '>' or '&' (strings escape them as \u003c, \u003e,
// \u0026), so that no browser takes an answer for HTML.
func (v *Validator) Validate(ctx context.Context, method, target string, status int, header http.Header, body []byte) error {
	u, err := url.ParseRequestURI(target) // "//x" is a path here, not a host
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	if got := header.Values("X-Content-Type-Options"); len(got) != 1 || !strings.EqualFold(got[0], "nosniff") {
		return fmt.Errorf("%s %s: %d has X-Content-Type-Options %q, want nosniff", method, target, status, got)
	}
	req := &http.Request{Method: method, URL: u, Host: "localhost", Header: http.Header{}}
	req = req.WithContext(ctx)

	if method == http.MethodHead && len(body) > 0 {
		return fmt.Errorf("HEAD %s: %d has a body %q; an answer to HEAD has none", target, status, truncate(body))
	}
	// A body is JSON, unless the operation documents another media type
	// for the status (badges, web files): then only that type is checked.
	var mediaType string
	if len(body) > 0 {
		ct := header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return fmt.Errorf("%s %s: %d with a body has Content-Type %q, want application/json", method, target, status, ct)
		}
		mediaType = mt
		if mt == "application/json" && !json.Valid(body) {
			return fmt.Errorf("%s %s: %d body is not valid JSON: %q", method, target, status, truncate(body))
		}
		if mt == "application/json" && bytes.ContainsAny(body, "<>&") {
			return fmt.Errorf("%s %s: %d JSON body holds a raw '<', '>' or '&': %q", method, target, status, truncate(body))
		}
	}

	route, params, err := v.router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		route = &routers.Route{Spec: v.doc, Path: u.Path, Method: method, Operation: v.wrongMethod}
	case errors.Is(err, routers.ErrPathNotFound):
		route = &routers.Route{Spec: v.doc, Path: u.Path, Method: method, Operation: v.unknownPath}
	case err != nil:
		return fmt.Errorf("%s %s: find route: %w", method, target, err)
	}
	resp := route.Operation.Responses.Status(status)
	if resp != nil && resp.Value != nil && len(resp.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("%s %s: %d has a body %q; the document gives it none", method, target, status, truncate(body))
	}
	otherType := mediaType != "" && mediaType != "application/json"
	if otherType && (resp == nil || resp.Value == nil || resp.Value.Content.Get(mediaType) == nil) {
		return fmt.Errorf("%s %s: %d with a body has Content-Type %q, want application/json", method, target, status, header.Get("Content-Type"))
	}
	if method == http.MethodHead {
		// openapi3filter validates nothing of an answer to HEAD; the route
		// found is HEAD's, so what the request's method says no longer
		// matters.
		req = req.Clone(ctx)
		req.Method = http.MethodGet
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			ExcludeResponseBody: method == http.MethodHead || otherType},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("%s %s: %d %q does not match the OpenAPI document: %w", method, target, status, truncate(body), err)
	}
	return nil
}

func truncate(b []byte) string {
	const max = 300
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
