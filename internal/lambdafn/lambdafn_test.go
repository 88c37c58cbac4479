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

func TestNewRejectsBadConfig(t *testing.T) {
	tests := map[string]struct {
		route string
		env   map[string]string
	}{
		"unknown route": {route: "nope", env: nil},
		"unknown store": {route: "get", env: map[string]string{"STORE": "bogus"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			if _, err := lambdafn.New(context.Background(), tc.route, getenv, nil); err == nil {
				t.Fatal("New succeeded, want an error")
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
