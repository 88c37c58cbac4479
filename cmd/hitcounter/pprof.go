//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
)

// With the build tag pprof (go build -tags pprof), the server also serves
// the runtime's profiles on HITCOUNTER_PPROF (an address such as
// 127.0.0.1:6060), apart from the API: how docs/benchmarks.md's CPU
// profiles are taken under hitbench's load. Never in a release build.
func init() {
	if addr := os.Getenv("HITCOUNTER_PPROF"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
