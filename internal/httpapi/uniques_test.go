package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// TestUniquesLeftOutWhereNotCounted: the stats' points and a listing's
// carry uniques where visitors are counted, and leave the field out
// where they are not (no Visitors: UNIQUES=false), so that a client tells "not counted" from none: the counter page then
// says so instead of drawing zeros.
func TestUniquesLeftOutWhereNotCounted(t *testing.T) {
	hasher := uniques.NewHasher(uniques.SaltFunc(func(time.Time) uniques.Salt { return uniques.Salt{1} }), nil)
	for _, tc := range []struct {
		name        string
		opts        httpapi.Options
		wantUniques bool
	}{
		{"counted", httpapi.Options{Visitors: hasher}, true},
		{"UNIQUES=false", httpapi.Options{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, memstore.New(), tc.opts)
			serve(t, h, http.MethodPost, "/counters", `{"name":"seen"}`)
			serve(t, h, http.MethodPost, "/counters/seen/increment", "")
			for _, target := range []string{"/counters/seen/stats?period=day", "/counters?stats=day"} {
				res := serve(t, h, http.MethodGet, target, "")
				var body struct {
					Points   []map[string]any
					Counters []struct{ Points []map[string]any }
				}
				if err := json.Unmarshal(res.body, &body); err != nil || res.status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", target, res.status, res.body)
				}
				points := body.Points
				if len(body.Counters) > 0 {
					points = body.Counters[0].Points
				}
				if len(points) == 0 {
					t.Fatalf("GET %s: no points: %s", target, res.body)
				}
				last := points[len(points)-1]
				if _, has := last["uniques"]; has != tc.wantUniques || last["hits"] != float64(1) {
					t.Errorf("GET %s: last point %v; want hits 1, and uniques %v", target, last, map[bool]string{true: "shown", false: "left out"}[tc.wantUniques])
				}
			}
		})
	}
}
