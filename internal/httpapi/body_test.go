package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// TestDuplicateMembers checks that a member given twice is 400
// invalid_request on every route with a body, and changes nothing: a
// decoder that lets the last one win would apply another request than the
// one a reader of the first sees.
func TestDuplicateMembers(t *testing.T) {
	tests := map[string]struct{ method, target, body string }{
		"increment by":       {"POST", "/counters/x/increment", `{"by":1,"by":1000000}`},
		"increment same":     {"POST", "/counters/x/increment", `{"by":1,"by":1}`},
		"increment escaped":  {"POST", "/counters/x/increment", `{"by":1,"\u0062y":2}`},
		"set count":          {"PUT", "/counters/x", `{"count":1,"count":1000000}`},
		"set creating":       {"PUT", "/counters/y", `{"count":1,"count":2}`},
		"create name":        {"POST", "/counters", `{"name":"y","name":"z"}`},
		"create count":       {"POST", "/counters", `{"name":"y","count":1,"count":2}`},
		"create name, count": {"POST", "/counters", `{"count":1,"name":"y","count":1}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 5)); err != nil {
				t.Fatal(err)
			}
			res := serve(t, newHandler(t, store, httpapi.Options{}), tt.method, tt.target, tt.body)
			wantError(t, res, http.StatusBadRequest, "invalid_request")
			if !strings.Contains(string(res.body), "more than once") {
				t.Errorf("got %s, want a message saying a field is given more than once", res.body)
			}
			if c, err := store.Get(t.Context(), "x"); err != nil || c.Count != 5 {
				t.Errorf("got x = %+v, %v; want it unchanged at 5", c, err)
			}
			for _, other := range []string{"y", "z"} {
				if _, err := store.Get(t.Context(), other); err == nil {
					t.Errorf("counter %q was created", other)
				}
			}
		})
	}
}

// TestRangeMessages checks that each number field's error states its own
// range: a count is 0..2^53-1, an increment ±(2^53-1) but 0.
func TestRangeMessages(t *testing.T) {
	tests := map[string]struct {
		method, target, body string
		wantMessage          string
	}{
		"create count too large": {"POST", "/counters", `{"name":"y","count":9007199254740992}`, `field "count" must be an integer from 0 to 9007199254740991`},
		"create count negative":  {"POST", "/counters", `{"name":"y","count":-1}`, `field "count" must be an integer from 0 to 9007199254740991`},
		"set count fraction":     {"PUT", "/counters/x", `{"count":1.5}`, `field "count" must be an integer from 0 to 9007199254740991`},
		"set count string":       {"PUT", "/counters/x", `{"count":"1"}`, `field "count" must be an integer from 0 to 9007199254740991`},
		"increment by too small": {"POST", "/counters/x/increment", `{"by":-9007199254740992}`, `field "by" must be a non-zero integer from -9007199254740991 to 9007199254740991`},
		"increment by zero":      {"POST", "/counters/x/increment", `{"by":0}`, `field "by" must be a non-zero integer from -9007199254740991 to 9007199254740991`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res := serve(t, newHandler(t, memstore.New(), httpapi.Options{}), tt.method, tt.target, tt.body)
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(res.body, &e); err != nil || res.status != http.StatusBadRequest || e.Error.Message != tt.wantMessage {
				t.Errorf("got %d %s, want 400 with message %q", res.status, res.body, tt.wantMessage)
			}
		})
	}
}
