package localapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hitcounter/hitcounter/tools/iamgate"
	"github.com/hitcounter/hitcounter/tools/localapi"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// accesses records what the gate between the functions and DynamoDB
// decided during a test (localapi.Options.OnAccess).
type accesses struct {
	mu  sync.Mutex
	all []iamgate.Decision
}

func (a *accesses) record(d iamgate.Decision) {
	a.mu.Lock()
	a.all = append(a.all, d)
	a.mu.Unlock()
}

func (a *accesses) decisions() []iamgate.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.all)
}

// wantNoDenial fails the test for each request the gate refused: under
// the template's roles, every function may do what its routes do.
func (a *accesses) wantNoDenial(t *testing.T) {
	t.Helper()
	for _, d := range a.decisions() {
		if !d.Allowed {
			t.Errorf("%s: %s (%s) on %s refused %s", d.Principal, d.Action, d.Operation, d.Resource, d.Reason)
		}
	}
}

// send sends one request with headers and returns its status and body.
func send(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// TestStackPermissions runs every route, keyed writes and their refusals
// included, under the template's roles with HitCreatesCounters on (the
// widest roles): the gate refuses nothing (startStack), and the HEAD of
// hit.svg, which reads the counter, answers 200 (issue 20: it answered 500
// on AWS, the hit function's role lacking GetItem). Then the same template
// with that one permission taken away: HEAD hit.svg answers 500 and the
// gate says why, so the gate does refuse what the role does not allow.
func TestStackPermissions(t *testing.T) {
	t.Run("template", func(t *testing.T) {
		acc := &accesses{}
		s := startStack(t, localapi.Options{PoolSize: 1, APIKeys: []string{testKey}, OnAccess: acc.record,
			TemplateParams: map[string]any{"HitCreatesCounters": "true"}})
		t.Cleanup(func() { acc.wantNoDenial(t) })
		u := s.URL()
		admin := map[string]string{"x-api-key": testKey}
		keyed := func(key string) map[string]string {
			return map[string]string{"x-api-key": testKey, "Idempotency-Key": key + "-" + randomHex(t)}
		}
		steps := []struct {
			name, method, path, body string
			headers                  map[string]string
			want                     int
		}{
			{"health", "GET", "/health", "", nil, 200},
			{"create", "POST", "/counters", `{"name":"a","count":1}`, admin, 201},
			{"create keyed", "POST", "/counters", `{"name":"b"}`, keyed("create"), 201},
			{"create keyed, exists", "POST", "/counters", `{"name":"b"}`, keyed("create"), 409},
			{"set", "PUT", "/counters/a", `{"count":5}`, admin, 200},
			{"set keyed, creates", "PUT", "/counters/c", `{"count":5}`, keyed("set"), 201},
			{"set keyed", "PUT", "/counters/c", `{"count":6}`, keyed("set"), 200},
			{"increment", "POST", "/counters/a/increment", "", nil, 200},
			{"increment keyed", "POST", "/counters/a/increment", "", keyed("increment"), 200},
			{"increment keyed, missing", "POST", "/counters/none/increment", "", keyed("increment"), 404},
			{"increment, more than a view", "POST", "/counters/a/increment", `{"by":-100}`, keyed("increment"), 403},
			{"adjust", "PATCH", "/counters/a", `{"by":2}`, admin, 200},
			{"adjust keyed", "PATCH", "/counters/a", `{"by":3}`, keyed("adjust"), 200},
			{"adjust keyed, out of range", "PATCH", "/counters/a", `{"by":-100}`, keyed("adjust"), 409},
			{"get", "GET", "/counters/a", "", nil, 200},
			{"head", "HEAD", "/counters/a", "", nil, 200},
			{"list", "GET", "/counters", "", admin, 200},
			{"stats", "GET", "/counters/a/stats", "", nil, 200},
			{"badge", "GET", "/counters/a/badge.svg", "", nil, 200},
			{"shields", "GET", "/counters/a/shields.json", "", nil, 200},
			{"hit", "GET", "/counters/a/hit.svg", "", nil, 200},
			{"hit HEAD", "HEAD", "/counters/a/hit.svg", "", nil, 200},
			{"hit creates", "GET", "/counters/new/hit.svg", "", nil, 200},
			{"dashboard", "GET", "/", "", nil, 200},
			{"delete keyed", "DELETE", "/counters/c", "", keyed("delete"), 204},
			{"delete keyed, missing", "DELETE", "/counters/c", "", keyed("delete"), 404},
			{"delete", "DELETE", "/counters/b", "", admin, 204},
		}
		for _, st := range steps {
			if got, body := send(t, st.method, u+st.path, st.body, st.headers); got != st.want {
				t.Errorf("%s: %s %s: %d %s, want %d", st.name, st.method, st.path, got, body, st.want)
			}
		}
		// Every function that touches a table was seen at the gate.
		seen := map[string]bool{}
		for _, d := range acc.decisions() {
			seen[d.Principal] = true
		}
		for _, fn := range []string{"HealthFunction", "CreateFunction", "SetFunction", "IncrementFunction", "DeleteFunction",
			"ListFunction", "GetFunction", "StatsFunction", "BadgeFunction", "HitFunction", "ShieldsFunction"} {
			if !seen[fn] {
				t.Errorf("%s never reached the gate", fn)
			}
		}
	})

	t.Run("without the hit function's GetItem", func(t *testing.T) {
		// Unique visitors off: with them on, a hit also reads the day's
		// salt with GetItem (once a day per instance; the subtest above
		// runs the hits with it), and this checks the count's own calls.
		acc := &accesses{}
		s := startStack(t, localapi.Options{PoolSize: 1, APIKeys: []string{testKey}, OnAccess: acc.record,
			Template: withoutPermission(t, "dynamodb:GetItem", "Hit"), Env: map[string]string{"UNIQUES": "false"}})
		u := s.URL()
		if got, body := send(t, "POST", u+"/counters", `{"name":"a"}`, map[string]string{"x-api-key": testKey}); got != 201 {
			t.Fatalf("create: %d %s", got, body)
		}
		if got, body := send(t, "GET", u+"/counters/a/hit.svg", "", nil); got != 200 {
			t.Errorf("GET hit.svg: %d %s, want 200 (it needs UpdateItem only)", got, body)
		}
		if got, _ := send(t, "HEAD", u+"/counters/a/hit.svg", "", nil); got != 500 {
			t.Errorf("HEAD hit.svg: %d, want 500 (the function's GetItem refused)", got)
		}
		var refused []iamgate.Decision
		for _, d := range acc.decisions() {
			if !d.Allowed {
				refused = append(refused, d)
			}
		}
		if len(refused) != 1 || refused[0].Principal != "HitFunction" || refused[0].Action != "dynamodb:GetItem" {
			t.Errorf("refused %+v, want the hit function's GetItem only", refused)
		}
	})
}

// withoutPermission writes the template with the function fn (its role's
// tag) taken out of every statement that grants action, and returns its
// path. It fails the test if no statement did.
func withoutPermission(t *testing.T, action, fn string) string {
	t.Helper()
	root, err := localapi.FindModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if cond, ok := v["Condition"].(map[string]any); ok && grants(v["Action"], action) {
				eq, _ := cond["StringEquals"].(map[string]any)
				if fns, ok := eq["aws:PrincipalTag/function"].([]any); ok && slices.Contains(fns, any(fn)) {
					eq["aws:PrincipalTag/function"] = slices.DeleteFunc(fns, func(x any) bool { return x == fn })
					changed++
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tmpl.Raw["Resources"])
	if changed == 0 {
		t.Fatalf("no statement grants %s to %s by its tag: change this test with the template", action, fn)
	}
	data, err := json.Marshal(tmpl.Raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "template.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// grants reports whether an Action element names action.
func grants(v any, action string) bool {
	switch v := v.(type) {
	case string:
		return v == action
	case []any:
		return slices.ContainsFunc(v, func(x any) bool { return grants(x, action) })
	case map[string]any: // an action that depends on a condition: either branch
		if args, ok := v["Fn::If"].([]any); ok && len(args) == 3 {
			return grants(args[1], action) || grants(args[2], action)
		}
	}
	return false
}

// TestStackRegionPermissions runs the routes a region serves, with
// ReplicaRegions set (the stack in the first region, which owns the global
// table), under the roles the template gives then: a region's reads are
// BatchGetItems of a counter's items from every region, which the roles
// must allow every function that reads a counter (the gate refuses
// nothing). One region stands alone here: replication is tools/replsim's.
func TestStackRegionPermissions(t *testing.T) {
	const regions = "us-east-1,eu-west-1"
	table := "global-" + randomHex(t)
	s := startStack(t, localapi.Options{PoolSize: 1, APIKeys: []string{testKey}, TableName: table,
		Env:            map[string]string{"REPLICA_REGIONS": regions},
		TemplateParams: map[string]any{"ReplicaRegions": regions, "GlobalTableName": table}})
	admin := map[string]string{"x-api-key": testKey}
	for _, st := range []struct {
		method, path, body string
		headers            map[string]string
		want               int
	}{
		{"GET", "/health", "", nil, 200},
		{"POST", "/counters", `{"name":"a","count":1}`, admin, 201},
		{"POST", "/counters/a/increment", "", nil, 200},
		{"PATCH", "/counters/a", `{"by":2}`, admin, 200},
		{"GET", "/counters/a", "", nil, 200},
		{"GET", "/counters", "", admin, 200},
		{"GET", "/counters/a/stats", "", nil, 200},
		{"GET", "/counters/a/badge.svg", "", nil, 200},
		{"GET", "/counters/a/shields.json", "", nil, 200},
		{"GET", "/counters/a/hit.svg", "", nil, 200},
		{"PUT", "/counters/a", `{"count":7}`, admin, 200},
		{"DELETE", "/counters/a", "", admin, 204},
		{"PUT", "/counters/a", `{"count":2}`, admin, 201}, // a set that creates: the next generation
		{"DELETE", "/counters/a", "", map[string]string{"x-api-key": testKey, "Idempotency-Key": "gone-twice"}, 204},
		{"POST", "/counters", `{"name":"a"}`, admin, 201},
	} {
		if got, body := send(t, st.method, s.URL()+st.path, st.body, st.headers); got != st.want {
			t.Errorf("%s %s: %d %s, want %d", st.method, st.path, got, body, st.want)
		}
	}
}
