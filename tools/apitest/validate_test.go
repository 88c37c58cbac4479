package apitest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/tools/apitest"
)

func TestValidator(t *testing.T) {
	v, err := apitest.DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	const counter = `{"name":"home","count":42,"created_at":"2026-11-27T03:05:49.123Z","updated_at":"2026-11-27T03:05:49.123Z"}`
	jsonHeader := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := map[string]struct {
		method, target string
		status         int
		header         http.Header
		body           string
		wantErr        string // "" if valid
	}{
		"counter":                {"GET", "/counters/home", 200, jsonHeader(), counter, ""},
		"created with Location":  {"POST", "/counters", 201, jsonHeader("Location", "/counters/home"), counter, ""},
		"created, no Location":   {"POST", "/counters", 201, jsonHeader(), counter, "Location"},
		"PUT created":            {"PUT", "/counters/home", 201, jsonHeader("Location", "/counters/home"), counter, ""},
		"counter missing field":  {"GET", "/counters/home", 200, jsonHeader(), `{"name":"home","count":1,"created_at":"2026-11-27T03:05:49.123Z"}`, "updated_at"},
		"counter extra field":    {"GET", "/counters/home", 200, jsonHeader(), strings.Replace(counter, `{`, `{"id":1,`, 1), "id"},
		"negative count":         {"GET", "/counters/home", 200, jsonHeader(), strings.Replace(counter, "42", "-1", 1), "minimum"},
		"count past 2^53-1":      {"GET", "/counters/home", 200, jsonHeader(), strings.Replace(counter, "42", "9007199254740992", 1), "maximum"},
		"count as string":        {"GET", "/counters/home", 200, jsonHeader(), strings.Replace(counter, "42", `"42"`, 1), "integer"},
		"bad timestamp":          {"GET", "/counters/home", 200, jsonHeader(), strings.Replace(counter, "2026-11-27T03:05:49.123Z", "yesterday", 1), "date-time"},
		"text/plain":             {"GET", "/counters/home", 200, http.Header{"Content-Type": {"text/plain"}}, counter, "Content-Type"},
		"no Content-Type":        {"GET", "/counters/home", 200, http.Header{}, counter, "Content-Type"},
		"not JSON":               {"GET", "/counters/home", 200, jsonHeader(), `{"name":`, "not valid JSON"},
		"undocumented status":    {"GET", "/counters/home", 418, jsonHeader(), `{"error":{"code":"internal","message":"x"}}`, "status"},
		"409 on get":             {"GET", "/counters/home", 409, jsonHeader(), `{"error":{"code":"already_exists","message":"x"}}`, "status"},
		"not_found":              {"GET", "/counters/home", 404, jsonHeader(), `{"error":{"code":"not_found","message":"x"}}`, ""},
		"404 with another code":  {"GET", "/counters/home", 404, jsonHeader(), `{"error":{"code":"internal","message":"x"}}`, "code"},
		"unknown error code":     {"POST", "/counters", 400, jsonHeader(), `{"error":{"code":"oops","message":"x"}}`, "code"},
		"error without message":  {"POST", "/counters", 400, jsonHeader(), `{"error":{"code":"invalid_name"}}`, "message"},
		"internal":               {"GET", "/counters/home", 500, jsonHeader(), `{"error":{"code":"internal","message":"internal error"}}`, ""},
		"internal detail":        {"GET", "/counters/home", 500, jsonHeader(), `{"error":{"code":"internal","message":"dial tcp: refused"}}`, "message"},
		"unavailable":            {"GET", "/counters/home", 503, jsonHeader("Retry-After", "1"), `{"error":{"code":"unavailable","message":"x"}}`, ""},
		"unavailable, no Retry":  {"GET", "/counters/home", 503, jsonHeader(), `{"error":{"code":"unavailable","message":"x"}}`, "Retry-After"},
		"204":                    {"DELETE", "/counters/home", 204, http.Header{}, ``, ""},
		"204 with a body":        {"DELETE", "/counters/home", 204, jsonHeader(), `{}`, "body"},
		"health":                 {"GET", "/health", 200, jsonHeader(), `{"status":"ok"}`, ""},
		"health down":            {"GET", "/health", 503, jsonHeader("Retry-After", "1"), `{"status":"unavailable","error":{"code":"unavailable","message":"x"}}`, ""},
		"health down as ok":      {"GET", "/health", 503, jsonHeader("Retry-After", "1"), `{"status":"ok"}`, "status"},
		"list last page":         {"GET", "/counters?limit=1", 200, jsonHeader(), `{"counters":[` + counter + `]}`, ""},
		"list with cursor":       {"GET", "/counters", 200, jsonHeader(), `{"counters":[],"next_cursor":"abc"}`, ""},
		"list empty cursor":      {"GET", "/counters", 200, jsonHeader(), `{"counters":[],"next_cursor":""}`, "next_cursor"},
		"list no counters":       {"GET", "/counters", 200, jsonHeader(), `{"next_cursor":"abc"}`, "counters"},
		"unknown path":           {"GET", "/nope", 404, jsonHeader(), `{"error":{"code":"not_found","message":"x"}}`, ""},
		"unknown path, 200":      {"GET", "/nope", 200, jsonHeader(), `{"status":"ok"}`, "status"},
		"empty name":             {"GET", "/counters/", 400, jsonHeader(), `{"error":{"code":"invalid_name","message":"x"}}`, ""},
		"wrong method":           {"POST", "/counters/home", 405, jsonHeader("Allow", "GET, PUT, PATCH, DELETE"), `{"error":{"code":"method_not_allowed","message":"x"}}`, ""},
		"wrong method, no Allow": {"POST", "/counters/home", 405, jsonHeader(), `{"error":{"code":"method_not_allowed","message":"x"}}`, "Allow"},
		"wrong method, 404":      {"POST", "/counters/home", 404, jsonHeader(), `{"error":{"code":"not_found","message":"x"}}`, "status"},
		"forbidden increment":    {"POST", "/counters/home/increment", 403, jsonHeader(), `{"error":{"code":"forbidden","message":"x"}}`, ""},
		"forbidden adjust":       {"PATCH", "/counters/home", 403, jsonHeader(), `{"error":{"code":"forbidden","message":"x"}}`, "status"},
		"adjust":                 {"PATCH", "/counters/home", 200, jsonHeader(), counter, ""},
		"unauthorized":           {"DELETE", "/counters/home", 401, jsonHeader("WWW-Authenticate", `ApiKey realm="x"`), `{"error":{"code":"unauthorized","message":"x"}}`, ""},
		"401 without challenge":  {"DELETE", "/counters/home", 401, jsonHeader(), `{"error":{"code":"unauthorized","message":"x"}}`, "WWW-Authenticate"},
		"HEAD":                   {"HEAD", "/counters/home", 200, jsonHeader("Content-Length", "120"), ``, ""},
		"HEAD with a body":       {"HEAD", "/counters/home", 200, jsonHeader(), counter, "body"},
		"HEAD 404":               {"HEAD", "/counters/home", 404, jsonHeader(), ``, ""},
		"HEAD 409":               {"HEAD", "/counters/home", 409, jsonHeader(), ``, "status"},
		"HEAD on increment":      {"HEAD", "/counters/home/increment", 405, jsonHeader("Allow", "POST"), ``, ""},
		"rate limited":           {"POST", "/counters/home/increment", 429, jsonHeader("Retry-After", "3"), `{"error":{"code":"rate_limited","message":"x"}}`, ""},
		"413 on get":             {"GET", "/counters/home", 413, jsonHeader(), `{"error":{"code":"payload_too_large","message":"x"}}`, "status"},
		"out of range":           {"POST", "/counters/home/increment", 409, jsonHeader(), `{"error":{"code":"out_of_range","message":"x"}}`, ""},
		"already_exists on incr": {"POST", "/counters/home/increment", 409, jsonHeader(), `{"error":{"code":"already_exists","message":"x"}}`, "code"},
		"no nosniff":             {"GET", "/counters/home", 200, http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": nil}, counter, "nosniff"},
		"nosniff on 204 only":    {"DELETE", "/counters/home", 204, http.Header{"X-Content-Type-Options": nil}, ``, "nosniff"},
		"other nosniff value":    {"GET", "/counters/home", 200, jsonHeader("X-Content-Type-Options", "sniff"), counter, "nosniff"},
		"raw < in a string":      {"GET", "/nope", 404, jsonHeader(), `{"error":{"code":"not_found","message":"no route for GET /<script>"}}`, "raw"},
		"raw & in a string":      {"GET", "/nope", 404, jsonHeader(), `{"error":{"code":"not_found","message":"a&b"}}`, "raw"},
		"escaped < in a string":  {"GET", "/nope", 404, jsonHeader(), `{"error":{"code":"not_found","message":"no route for GET /\u003cscript\u003e"}}`, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, ok := tt.header["X-Content-Type-Options"]; !ok {
				tt.header.Set("X-Content-Type-Options", "nosniff") // every answer's; the cases above that test it set their own
			}
			err := v.Validate(t.Context(), tt.method, tt.target, tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("got no error, want one mentioning %q", tt.wantErr)
			case tt.wantErr != "":
				// The error quotes the body; look for wantErr in the rest.
				if msg := strings.Replace(err.Error(), strconv.Quote(tt.body), "", 1); !strings.Contains(msg, tt.wantErr) {
					t.Errorf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
			}
		})
	}
}
