package httpapi_test

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/tools/apitest"
)

// TestOpenAPIRoutes checks that the OpenAPI document has exactly the
// router's paths and methods, HEAD wherever GET, with the route names as
// operation IDs (name+"Head" for HEAD) and API keys (optional) on exactly
// the admin routes.
func TestOpenAPIRoutes(t *testing.T) {
	v, err := apitest.DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	doc := v.Document()
	type op struct{ Method, Path, Name string }
	var got, want []op
	for path, item := range doc.Paths.Map() {
		for method, o := range item.Operations() {
			got = append(got, op{method, path, o.OperationID})
			name := o.OperationID
			if method == http.MethodHead {
				name = strings.TrimSuffix(name, "Head")
			}
			rt, ok := httpapi.RouteNamed(name)
			if !ok {
				continue // reported by the comparison below
			}
			var schemes []string
			optional := false
			if o.Security != nil {
				for _, req := range *o.Security {
					if len(req) == 0 {
						optional = true
					}
					for name := range req {
						schemes = append(schemes, name)
					}
				}
			}
			if rt.Admin && (!slices.Equal(schemes, []string{"apiKey"}) || !optional) {
				t.Errorf("%s %s: got security %v (optional %t), want apiKey, optional", method, path, schemes, optional)
			}
			if !rt.Admin && len(schemes) > 0 {
				t.Errorf("%s %s: got security %v, want none", method, path, schemes)
			}
		}
	}
	for _, rt := range httpapi.Routes {
		want = append(want, op{rt.Method, rt.Path, rt.Name})
		if rt.Method == http.MethodGet {
			want = append(want, op{http.MethodHead, rt.Path, rt.Name + "Head"})
		}
	}
	cmp := func(a, b op) int { return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("OpenAPI operations:\ngot  %v\nwant %v", got, want)
	}
	if len(doc.Security) != 0 {
		t.Errorf("got document-wide security %v, want none (health, get and increment are open)", doc.Security)
	}
	scheme := doc.Components.SecuritySchemes["apiKey"]
	if scheme == nil || scheme.Value.Type != "apiKey" || scheme.Value.In != "header" || !strings.EqualFold(scheme.Value.Name, httpapi.APIKeyHeader) {
		t.Errorf("got security scheme apiKey %+v, want an apiKey in header %s", scheme, httpapi.APIKeyHeader)
	}
}

// TestOpenAPIRequests checks that the OpenAPI document accepts exactly the
// requests the handler accepts: each request goes both to the document's
// request validation and to the handler on a store holding "x" at 5.
func TestOpenAPIRequests(t *testing.T) {
	v, err := apitest.DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(v.Document())
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		method, target, body string
		// docAccepts is set where JSON Schema cannot tell what the handler
		// refuses: 1.0 and 1e2 are integers to JSON Schema.
		docAccepts bool
	}{
		"create":                     {method: "POST", target: "/counters", body: `{"name":"new"}`},
		"create with count":          {method: "POST", target: "/counters", body: `{"name":"new","count":9007199254740991}`},
		"create count too large":     {method: "POST", target: "/counters", body: `{"name":"new","count":9007199254740992}`},
		"create negative":            {method: "POST", target: "/counters", body: `{"name":"new","count":-1}`},
		"create fraction":            {method: "POST", target: "/counters", body: `{"name":"new","count":1.5}`},
		"create integral fraction":   {method: "POST", target: "/counters", body: `{"name":"new","count":1.0}`, docAccepts: true},
		"create exponent":            {method: "POST", target: "/counters", body: `{"name":"new","count":1e2}`, docAccepts: true},
		"create string count":        {method: "POST", target: "/counters", body: `{"name":"new","count":"5"}`},
		"create null count":          {method: "POST", target: "/counters", body: `{"name":"new","count":null}`},
		"create no name":             {method: "POST", target: "/counters", body: `{"count":1}`},
		"create empty name":          {method: "POST", target: "/counters", body: `{"name":""}`},
		"create 128-char name":       {method: "POST", target: "/counters", body: `{"name":"` + strings.Repeat("a", 128) + `"}`},
		"create 129-char name":       {method: "POST", target: "/counters", body: `{"name":"` + strings.Repeat("a", 129) + `"}`},
		"create dotted name":         {method: "POST", target: "/counters", body: `{"name":"a.b_c-D9"}`},
		"create leading dot":         {method: "POST", target: "/counters", body: `{"name":".a"}`},
		"create non-ASCII":           {method: "POST", target: "/counters", body: `{"name":"é"}`},
		"create slash":               {method: "POST", target: "/counters", body: `{"name":"a/b"}`},
		"create newline at the end":  {method: "POST", target: "/counters", body: `{"name":"a\n"}`},
		"create unknown field":       {method: "POST", target: "/counters", body: `{"name":"new","x":1}`},
		"create field in caps":       {method: "POST", target: "/counters", body: `{"Name":"new"}`},
		"create array":               {method: "POST", target: "/counters", body: `[]`},
		"create no body":             {method: "POST", target: "/counters"},
		"list":                       {method: "GET", target: "/counters"},
		"list limit 1":               {method: "GET", target: "/counters?limit=1"},
		"list limit 1000":            {method: "GET", target: "/counters?limit=1000"},
		"list limit 0":               {method: "GET", target: "/counters?limit=0"},
		"list limit 1001":            {method: "GET", target: "/counters?limit=1001"},
		"list limit abc":             {method: "GET", target: "/counters?limit=abc"},
		"get":                        {method: "GET", target: "/counters/x"},
		"get bad name":               {method: "GET", target: "/counters/-x"},
		"get encoded slash":          {method: "GET", target: "/counters/a%2Fb"},
		"get 129-char name":          {method: "GET", target: "/counters/" + strings.Repeat("a", 129)},
		"set":                        {method: "PUT", target: "/counters/x", body: `{"count":0}`},
		"set largest":                {method: "PUT", target: "/counters/x", body: `{"count":9007199254740991}`},
		"set too large":              {method: "PUT", target: "/counters/x", body: `{"count":9007199254740992}`},
		"set negative":               {method: "PUT", target: "/counters/x", body: `{"count":-1}`},
		"set no count":               {method: "PUT", target: "/counters/x", body: `{}`},
		"set extra field":            {method: "PUT", target: "/counters/x", body: `{"count":1,"name":"x"}`},
		"set no body":                {method: "PUT", target: "/counters/x"},
		"set bad name":               {method: "PUT", target: "/counters/_x", body: `{"count":1}`},
		"increment":                  {method: "POST", target: "/counters/x/increment"},
		"increment empty object":     {method: "POST", target: "/counters/x/increment", body: `{}`},
		"increment by 3":             {method: "POST", target: "/counters/x/increment", body: `{"by":3}`},
		"increment by -5":            {method: "POST", target: "/counters/x/increment", body: `{"by":-5}`},
		"increment by 0":             {method: "POST", target: "/counters/x/increment", body: `{"by":0}`},
		"increment by fraction":      {method: "POST", target: "/counters/x/increment", body: `{"by":0.5}`},
		"increment by too small":     {method: "POST", target: "/counters/x/increment", body: `{"by":-9007199254740992}`},
		"increment by string":        {method: "POST", target: "/counters/x/increment", body: `{"by":"1"}`},
		"increment by null":          {method: "POST", target: "/counters/x/increment", body: `{"by":null}`},
		"increment unknown field":    {method: "POST", target: "/counters/x/increment", body: `{"by":1,"count":2}`},
		"increment body not object":  {method: "POST", target: "/counters/x/increment", body: `1`},
		"increment bad name":         {method: "POST", target: "/counters/%C3%A9/increment"},
		"adjust by -2":               {method: "PATCH", target: "/counters/x", body: `{"by":-2}`},
		"adjust by 3":                {method: "PATCH", target: "/counters/x", body: `{"by":3}`},
		"adjust by 0":                {method: "PATCH", target: "/counters/x", body: `{"by":0}`},
		"adjust no by":               {method: "PATCH", target: "/counters/x", body: `{}`},
		"adjust no body":             {method: "PATCH", target: "/counters/x"},
		"adjust by string":           {method: "PATCH", target: "/counters/x", body: `{"by":"1"}`},
		"adjust by too large":        {method: "PATCH", target: "/counters/x", body: `{"by":9007199254740992}`},
		"adjust unknown field":       {method: "PATCH", target: "/counters/x", body: `{"by":1,"count":2}`},
		"delete":                     {method: "DELETE", target: "/counters/x"},
		"delete bad name":            {method: "DELETE", target: "/counters/a%20b"},
		"health":                     {method: "GET", target: "/health"},
		"create largest name + body": {method: "POST", target: "/counters", body: `{"name":"Z` + strings.Repeat("9", 127) + `","count":0}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			store := memstore.New()
			if _, err := store.Apply(t.Context(), counter.Create("x", 5)); err != nil {
				t.Fatal(err)
			}
			res := serve(t, newHandler(t, store, httpapi.Options{}), tt.method, tt.target, tt.body)
			handlerAccepts := res.status < 300

			req := httptest.NewRequest(tt.method, tt.target, bytes.NewReader([]byte(tt.body)))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			err = openapi3filter.ValidateRequest(t.Context(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
			})
			docAccepts := err == nil
			switch {
			case tt.docAccepts:
				if !docAccepts || handlerAccepts {
					t.Errorf("got document accepts %t (%v), handler %d %s; want the document to accept and the handler to refuse", docAccepts, err, res.status, res.body)
				}
			case docAccepts != handlerAccepts:
				t.Errorf("got document accepts %t (%v), handler %d %s; want them to agree", docAccepts, err, res.status, res.body)
			}
		})
	}
}

// TestOpenAPIStatuses checks that each operation documents exactly the
// statuses the contract gives its route, each with a JSON body but 204.
func TestOpenAPIStatuses(t *testing.T) {
	v, err := apitest.DefaultValidator()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		httpapi.RouteHealth:    {"200", "429", "500", "503"},
		httpapi.RouteCreate:    {"201", "400", "401", "409", "413", "422", "429", "500", "503", "507"},
		httpapi.RouteList:      {"200", "400", "401", "429", "500", "503"},
		httpapi.RouteGet:       {"200", "400", "404", "429", "500", "503"},
		httpapi.RouteSet:       {"200", "201", "400", "401", "413", "422", "429", "500", "503", "507"},
		httpapi.RouteAdjust:    {"200", "400", "401", "404", "409", "413", "422", "429", "500", "503"},
		httpapi.RouteIncrement: {"200", "400", "403", "404", "409", "413", "422", "429", "500", "503"},
		httpapi.RouteDelete:    {"204", "400", "401", "404", "422", "429", "500", "503"},
		httpapi.RouteStats:     {"200", "400", "404", "429", "500", "503"},

		httpapi.RouteBadge:   {"200", "304", "400", "404", "429", "500", "503"},
		httpapi.RouteHit:     {"200", "304", "400", "404", "409", "429", "500", "503", "507"},
		httpapi.RouteShields: {"200", "304", "400", "404", "429", "500", "503"},

		httpapi.RouteDashboard:       {"200", "304", "429", "500"},
		httpapi.RouteDashboardScript: {"200", "304", "429", "500"},
		httpapi.RouteDashboardStyle:  {"200", "304", "429", "500"},
		httpapi.RouteEmbed:           {"200", "304", "429", "500"},
	}
	// Routes whose answers are not JSON, and their media type (429, and
	// 500 from a web file, come from the middleware, as JSON).
	mediaTypes := map[string]string{
		httpapi.RouteBadge:           "image/svg+xml",
		httpapi.RouteHit:             "image/svg+xml",
		httpapi.RouteDashboard:       "text/html",
		httpapi.RouteDashboardScript: "text/javascript",
		httpapi.RouteDashboardStyle:  "text/css",
		httpapi.RouteEmbed:           "text/javascript",
	}
	for _, rt := range httpapi.Routes {
		t.Run(rt.Name, func(t *testing.T) {
			op := v.Document().Paths.Value(rt.Path).GetOperation(rt.Method)
			got := slices.Sorted(func(yield func(string) bool) {
				for code := range op.Responses.Map() {
					if !yield(code) {
						return
					}
				}
			})
			if !slices.Equal(got, want[rt.Name]) {
				t.Errorf("got statuses %v, want %v", got, want[rt.Name])
			}
			for code, ref := range op.Responses.Map() {
				if code == "204" || code == "304" {
					continue
				}
				want := "application/json"
				if mt, ok := mediaTypes[rt.Name]; ok && code != "429" && !(code == "500" && mt != "image/svg+xml") {
					want = mt
				}
				if ref.Value.Content.Get(want) == nil || len(ref.Value.Content) != 1 {
					t.Errorf("%s: got content %v, want only %s", code, slices.Collect(maps.Keys(ref.Value.Content)), want)
				}
			}
			if rt.Method != http.MethodGet {
				return
			}
			head := v.Document().Paths.Value(rt.Path).GetOperation(http.MethodHead)
			if head == nil {
				t.Fatal("got no HEAD operation beside GET")
			}
			gotHead := slices.Sorted(maps.Keys(head.Responses.Map()))
			if !slices.Equal(gotHead, got) {
				t.Errorf("HEAD: got statuses %v, want GET's %v", gotHead, got)
			}
		})
	}
}
