package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// TestPublicIncrement: with a public bound, the open increment adds 1 to
// the bound and nothing else, key or not; PATCH /counters/{name} is the
// admin route for any other change; without one, the increment takes any
// by (issue 19: a stranger can add hits, and nothing else).
func TestPublicIncrement(t *testing.T) {
	type step struct {
		method, target, key, body string
		wantStatus                int
		wantCode                  string // for an error
		wantCount                 int64  // after the step
	}
	tests := map[string]struct {
		opts  httpapi.Options
		steps []step
	}{
		"keys, bound 3": {httpapi.Options{APIKeys: []string{"k"}, PublicMaxIncrement: 3}, []step{
			{"POST", "/counters/home/increment", "", "", 200, "", 101},
			{"POST", "/counters/home/increment", "", `{"by":3}`, 200, "", 104},
			{"POST", "/counters/home/increment", "", `{"by":4}`, 403, "forbidden", 104},
			{"POST", "/counters/home/increment", "k", `{"by":4}`, 403, "forbidden", 104},
			{"POST", "/counters/home/increment", "", `{"by":-1010}`, 403, "forbidden", 104},
			{"POST", "/counters/home/increment", "k", `{"by":-1}`, 403, "forbidden", 104},
			{"POST", "/counters/home/increment", "", `{"by":9007199254740991}`, 403, "forbidden", 104},
			{"POST", "/counters/home/increment", "", `{"by":0}`, 400, "invalid_request", 104},
			{"PATCH", "/counters/home", "", `{"by":-4}`, 401, "unauthorized", 104},
			{"PATCH", "/counters/home", "wrong", `{"by":-4}`, 401, "unauthorized", 104},
			{"PATCH", "/counters/home", "k", `{"by":-4}`, 200, "", 100},
			{"PATCH", "/counters/home", "k", `{"by":1000}`, 200, "", 1100},
		}},
		"keys, default bound": {httpapi.Options{APIKeys: []string{"k"}, PublicMaxIncrement: 1}, []step{
			{"POST", "/counters/home/increment", "", `{"by":1}`, 200, "", 101},
			{"POST", "/counters/home/increment", "k", `{"by":2}`, 403, "forbidden", 101},
		}},
		"no keys, no bound": {httpapi.Options{}, []step{
			{"POST", "/counters/home/increment", "", `{"by":-50}`, 200, "", 50},
			{"POST", "/counters/home/increment", "", `{"by":1000}`, 200, "", 1050},
			{"PATCH", "/counters/home", "", `{"by":-1000}`, 200, "", 50},
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("home", 100)); err != nil {
				t.Fatal(err)
			}
			h := newHandler(t, store, tc.opts)
			for _, st := range tc.steps {
				req := httptest.NewRequest(st.method, st.target, strings.NewReader(st.body))
				if st.key != "" {
					req.Header.Set(httpapi.APIKeyHeader, st.key)
				}
				res := do(h, req)
				validate(t, st.method, st.target, res)
				if st.wantCode != "" {
					wantError(t, res, st.wantStatus, st.wantCode)
				} else if res.status != st.wantStatus {
					t.Errorf("%s %s %s: got %d %s, want %d", st.method, st.target, st.body, res.status, res.body, st.wantStatus)
				}
				if st.wantCode == "forbidden" && !strings.Contains(string(res.body), "PATCH /counters/home") {
					t.Errorf("403 %s: want a message naming PATCH /counters/home", res.body)
				}
				if c, err := store.Get(t.Context(), "home"); err != nil || c.Count != st.wantCount {
					t.Errorf("after %s %s %s: count %d (%v), want %d", st.method, st.target, st.body, c.Count, err, st.wantCount)
				}
			}
		})
	}
}
