package lambdafn_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// TestMalformedEvents feeds the real event fixtures, spoiled the way a
// misconfigured integration or a direct invoke can, to the adapted handler:
// each must be a 400 invalid_request proxy response with the API's JSON
// error, not a function error (a 502 behind API Gateway).
func TestMalformedEvents(t *testing.T) {
	tests := map[string]struct {
		route   string
		spoil   func(*events.APIGatewayProxyRequest)
		wantMsg string
	}{
		"body marked base64 is not": {httpapi.RouteCreate, func(e *events.APIGatewayProxyRequest) {
			e.IsBase64Encoded = true
			e.Body = `{"name":"home"}` // plain JSON: '{' is not base64
		}, "the event's body is marked base64 but is not valid base64"},
		"method with a space": {httpapi.RouteGet, func(e *events.APIGatewayProxyRequest) {
			e.HTTPMethod = "GE T"
		}, "the event's httpMethod is not an HTTP method"},
		"method with a control byte": {httpapi.RouteIncrement, func(e *events.APIGatewayProxyRequest) {
			e.HTTPMethod = "POST\n"
		}, "the event's httpMethod is not an HTTP method"},
		"no method": {httpapi.RouteGet, func(e *events.APIGatewayProxyRequest) {
			e.HTTPMethod = ""
		}, "the event has no httpMethod"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			event := loadEvent(t, tc.route)
			tc.spoil(&event)
			handler := lambdafn.Adapt(mustHandler(t, tc.route))
			resp, err := handler.V1(context.Background(), event)
			if err != nil {
				t.Fatalf("function error %v, want a 400 proxy response", err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400; body %s", resp.StatusCode, resp.Body)
			}
			if ct := contentType(resp); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %s is not a JSON error: %v", resp.Body, err)
			}
			if body.Error.Code != "invalid_request" || body.Error.Message != tc.wantMsg {
				t.Errorf("error %+v, want invalid_request %q", body.Error, tc.wantMsg)
			}
		})
	}
}

// TestBase64Body checks that a body API Gateway did encode (binary media
// types) still reaches the handler decoded.
func TestBase64Body(t *testing.T) {
	event := loadEvent(t, httpapi.RouteCreate)
	event.IsBase64Encoded = true
	event.Body = base64.StdEncoding.EncodeToString([]byte(`{"name":"home","count":3}`))
	handler := lambdafn.Adapt(mustHandler(t, httpapi.RouteCreate))
	resp, err := handler.V1(context.Background(), event)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d, want 201; body %s", resp.StatusCode, resp.Body)
	}
}

// mustHandler is the API serving route on a memory store.
func mustHandler(t *testing.T, route string) http.Handler {
	t.Helper()
	h, err := httpapi.New(memstore.New(), httpapi.Options{Routes: []string{route}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestMalformedV2Events is TestMalformedEvents for payload version 2.0
// events, through the bytes Lambda hands the function.
func TestMalformedV2Events(t *testing.T) {
	tests := map[string]struct {
		spoil   func(map[string]any)
		wantMsg string
	}{
		"body marked base64 is not": {func(e map[string]any) {
			e["isBase64Encoded"] = true
			e["body"] = `{"name":"home"}`
		}, "the event's body is marked base64 but is not valid base64"},
		"no method": {func(e map[string]any) {
			delete(e["requestContext"].(map[string]any)["http"].(map[string]any), "method")
		}, "the event has no httpMethod"},
		"method with a space": {func(e map[string]any) {
			e["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = "PO ST"
		}, "the event's httpMethod is not an HTTP method"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "events", "http", "create.json"))
			if err != nil {
				t.Fatal(err)
			}
			var event map[string]any
			if err := json.Unmarshal(data, &event); err != nil {
				t.Fatal(err)
			}
			tc.spoil(event)
			payload, _ := json.Marshal(event)
			out, err := lambdafn.Adapt(mustHandler(t, httpapi.RouteCreate)).Invoke(context.Background(), payload)
			if err != nil {
				t.Fatalf("function error %v, want a 400 proxy response", err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal([]byte(resp.Body), &body)
			if resp.StatusCode != http.StatusBadRequest || body.Error.Code != "invalid_request" || body.Error.Message != tc.wantMsg {
				t.Errorf("%d %s, want 400 invalid_request %q", resp.StatusCode, resp.Body, tc.wantMsg)
			}
		})
	}
}
