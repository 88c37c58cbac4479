package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// ExampleNew mounts the API on a memory store under a server, creates a
// counter and increments it.
func ExampleNew() {
	api, err := httpapi.New(memstore.New(), httpapi.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(api) // or http.ListenAndServe(":3000", api)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/counters", "application/json", strings.NewReader(`{"name":"home","count":41}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Location"))

	resp, err = http.Post(srv.URL+"/counters/home/increment", "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, strings.Contains(string(body), `"count":42`))
	// Output:
	// 201 Created /counters/home
	// 200 OK true
}

// ExampleNew_oneRoute serves a single route, as a Lambda function does;
// the other routes are 404.
func ExampleNew_oneRoute() {
	api, err := httpapi.New(memstore.New(), httpapi.Options{Routes: []string{httpapi.RouteIncrement}})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 404 {"error":{"code":"not_found","message":"no route for GET /health"}}
}
