package lambdafn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

// TestNewRejectsBadConfig checks that a function's init fails, naming the
// variable, on a setting that does not parse, even one it does not use.
func TestNewRejectsBadConfig(t *testing.T) {
	tests := map[string]struct {
		route   string
		env     map[string]string
		wantErr string
	}{
		"unknown route":        {route: "nope", wantErr: `unknown route "nope"`},
		"page route, no pages": {route: "badge", wantErr: "Options.Pages"},
		"unknown store":        {route: "get", env: map[string]string{"STORE": "bogus"}, wantErr: `STORE="bogus"`},
		"bad timeout":          {route: "get", env: map[string]string{"REQUEST_TIMEOUT": "abc"}, wantErr: `REQUEST_TIMEOUT="abc"`},
		"empty origin list":    {route: "get", env: map[string]string{"CORS_ALLOWED_ORIGINS": ","}, wantErr: "CORS_ALLOWED_ORIGINS"},
		"rate limit NaN":       {route: "get", env: map[string]string{"RATE_LIMIT": "NaN"}, wantErr: `RATE_LIMIT="NaN"`},
		"malformed endpoint":   {route: "get", env: map[string]string{"STORE": "dynamodb", "TABLE_NAME": "hits", "AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"}, wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"no credentials": {route: "get", env: map[string]string{"STORE": "dynamodb", "TABLE_NAME": "hits", "AWS_REGION": "eu-west-1"},
			wantErr: "AWS_ACCESS_KEY_ID"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			fn := lambdafn.Function{}
			if tc.route != "" {
				fn.Routes = []string{tc.route}
			}
			_, err := lambdafn.New(context.Background(), fn, getenv, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: err = %v, want one mentioning %s", err, tc.wantErr)
			}
		})
	}
}

func TestReportInitError(t *testing.T) {
	type report struct {
		path, errorType string
		body            map[string]string
	}
	got := make(chan report, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]string
		_ = json.Unmarshal(data, &body)
		got <- report{r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()

	err := lambdafn.ReportInitError(context.Background(), api.Client(), strings.TrimPrefix(api.URL, "http://"), errors.New("STORE=\"bogus\": want memory or dynamodb"))
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.path != "/2018-06-01/runtime/init/error" {
		t.Errorf("path %s", r.path)
	}
	if r.errorType != lambdafn.InitErrorType || r.body["errorType"] != lambdafn.InitErrorType {
		t.Errorf("error type header %q, body %q; want %q", r.errorType, r.body["errorType"], lambdafn.InitErrorType)
	}
	if !strings.Contains(r.body["errorMessage"], "bogus") {
		t.Errorf("errorMessage %q", r.body["errorMessage"])
	}
}
