package main

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// baselineCounter is what a bare net/http handler doing the same work keeps.
type baselineCounter struct {
	count            int64
	created, updated time.Time
}

// appendMillis formats a UTC time as RFC 3339 with milliseconds, the way
// the service does (without AppendFormat's layout parsing), so that the
// baseline gets every advantage the service has.
func appendMillis(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// serveBaseline runs the baseline: the leanest honest net/http server doing
// the same work as the service (a mutex-guarded map, the same JSON bytes),
// with no validation, logging, timeouts or error vocabulary. Its requests/s
// is the ceiling the service is measured against.
func serveBaseline(ln net.Listener) error {
	var mu sync.Mutex
	counters := map[string]*baselineCounter{}
	appendJSON := func(b []byte, name string, c *baselineCounter) []byte {
		b = append(b, `{"name":"`...)
		b = append(b, name...)
		b = append(b, `","count":`...)
		b = strconv.AppendInt(b, c.count, 10)
		b = append(b, `,"created_at":"`...)
		b = appendMillis(b, c.created)
		b = append(b, `","updated_at":"`...)
		b = appendMillis(b, c.updated)
		return append(b, `"}`...)
	}
	write := func(w http.ResponseWriter, status int, body []byte) {
		w.Header()["Content-Type"] = []string{"application/json"}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /counters", func(w http.ResponseWriter, r *http.Request) {
		// Only used to seed: the name is the query string.
		name := r.URL.Query().Get("name")
		now := time.Now().UTC()
		mu.Lock()
		c := &baselineCounter{created: now, updated: now}
		counters[name] = c
		b := appendJSON(nil, name, c)
		mu.Unlock()
		write(w, http.StatusCreated, b)
	})
	mux.HandleFunc("POST /counters/{name}/increment", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		now := time.Now().UTC()
		mu.Lock()
		c, ok := counters[name]
		if !ok {
			mu.Unlock()
			write(w, http.StatusNotFound, []byte(`{"error":{"code":"not_found","message":"no such counter"}}`))
			return
		}
		c.count++
		c.updated = now
		b := appendJSON(make([]byte, 0, 128), name, c)
		mu.Unlock()
		write(w, http.StatusOK, b)
	})
	mux.HandleFunc("GET /counters/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		mu.Lock()
		c, ok := counters[name]
		if !ok {
			mu.Unlock()
			write(w, http.StatusNotFound, []byte(`{"error":{"code":"not_found","message":"no such counter"}}`))
			return
		}
		b := appendJSON(make([]byte, 0, 128), name, c)
		mu.Unlock()
		write(w, http.StatusOK, b)
	})
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, r *http.Request) {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			limit, _ = strconv.Atoi(v)
		}
		mu.Lock()
		names := make([]string, 0, len(counters))
		for name := range counters {
			names = append(names, name)
		}
		slices.Sort(names)
		if len(names) > limit {
			names = names[:limit]
		}
		b := append(make([]byte, 0, 4096), `{"counters":[`...)
		for i, name := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, name, counters[name])
		}
		mu.Unlock()
		write(w, http.StatusOK, append(b, "]}"...))
	})
	return http.Serve(ln, mux)
}
