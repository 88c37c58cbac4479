package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/filestore"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
)

// admin sends one request to h with an API key (empty for none).
func admin(t *testing.T, h http.Handler, method, target, key string, body io.Reader) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	if key != "" {
		r.Header.Set(httpapi.APIKeyHeader, key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func maintained(t *testing.T, store counter.Store, m httpapi.Maintenance) http.Handler {
	t.Helper()
	return newHandler(t, store, httpapi.Options{APIKeys: []string{"k"}, Maintenance: m})
}

// TestExportImportRoutes moves counters from one server's store to
// another's through GET /admin/export and POST /admin/import.
func TestExportImportRoutes(t *testing.T) {
	src := memstore.New()
	ctx := context.Background()
	for _, w := range []counter.Write{counter.Create("a", 1), counter.Create("b", 2), counter.Increment("a", 5)} {
		if _, err := src.Apply(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	from := maintained(t, src, httpapi.Maintenance{Export: true})
	exp := admin(t, from, http.MethodGet, "/admin/export", "k", nil)
	if exp.Code != http.StatusOK || exp.Header().Get("Content-Type") != "application/x-ndjson" ||
		!strings.HasPrefix(exp.Header().Get("Content-Disposition"), `attachment; filename="hitcounter-export-`) {
		t.Fatalf("GET /admin/export: %d %v %s", exp.Code, exp.Header(), exp.Body)
	}
	if lines := strings.Count(exp.Body.String(), "\n"); lines != 4 {
		t.Errorf("export of 2 counters: %d lines, want 4: %s", lines, exp.Body)
	}
	dst := memstore.New()
	to := maintained(t, dst, httpapi.Maintenance{Importer: dst})
	imp := admin(t, to, http.MethodPost, "/admin/import", "k", bytes.NewReader(exp.Body.Bytes()))
	if imp.Code != http.StatusOK || strings.TrimSpace(imp.Body.String()) != `{"imported":2,"skipped":0}` {
		t.Fatalf("POST /admin/import: %d %s", imp.Code, imp.Body)
	}
	if c, err := dst.Get(ctx, "a"); err != nil || c.Count != 6 {
		t.Errorf("imported a = %+v, %v; want count 6", c, err)
	}
	again := admin(t, to, http.MethodPost, "/admin/import", "k", bytes.NewReader(exp.Body.Bytes()))
	if again.Code != http.StatusOK || !strings.Contains(again.Body.String(), `"skipped":2,"skipped_names":["a","b"]`) {
		t.Errorf("a second import: %d %s, want both skipped by name", again.Code, again.Body)
	}
}

func TestMaintenanceRoutesRefuse(t *testing.T) {
	store := memstore.New()
	h := maintained(t, store, httpapi.Maintenance{Export: true, Importer: store})
	bare := maintained(t, store, httpapi.Maintenance{})
	header := `{"format":"hitcounter-export","version":1,"exported_at":"2026-01-01T00:00:00Z"}` + "\n"
	tests := map[string]struct {
		h            http.Handler
		method, path string
		key, body    string
		wantStatus   int
		wantBody     string
	}{
		"export without a key":      {h, http.MethodGet, "/admin/export", "", "", http.StatusUnauthorized, "unauthorized"},
		"import with a wrong key":   {h, http.MethodPost, "/admin/import", "nope", "", http.StatusUnauthorized, "unauthorized"},
		"export by POST":            {h, http.MethodPost, "/admin/export", "k", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		"import by GET":             {h, http.MethodGet, "/admin/import", "k", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		"snapshot not provided":     {h, http.MethodGet, "/admin/snapshot", "k", "", http.StatusNotFound, "not_found"},
		"no maintenance routes":     {bare, http.MethodGet, "/admin/export", "k", "", http.StatusNotFound, "not_found"},
		"import of nothing":         {h, http.MethodPost, "/admin/import", "k", "", http.StatusBadRequest, "the export is empty"},
		"import of a bad line":      {h, http.MethodPost, "/admin/import", "k", header + "{}\n", http.StatusBadRequest, "line 2: "},
		"import of a cut export":    {h, http.MethodPost, "/admin/import", "k", header, http.StatusBadRequest, "cut short; 0 counters imported"},
		"import of something else":  {h, http.MethodPost, "/admin/import", "k", "name,count\n", http.StatusBadRequest, "line 1: not a header line"},
		"import of a newer version": {h, http.MethodPost, "/admin/import", "k", strings.Replace(header, `"version":1`, `"version":9`, 1), http.StatusBadRequest, "version 9"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := admin(t, tc.h, tc.method, tc.path, tc.key, strings.NewReader(tc.body))
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("%s %s: %d %s; want %d with %q", tc.method, tc.path, w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Errorf("answer is not a JSON error: %s", w.Body)
			}
		})
	}
}

// TestSnapshotRoute: GET /admin/snapshot of a file store is a data file
// that opens with what the store held.
func TestSnapshotRoute(t *testing.T) {
	dir := t.TempDir()
	fs, err := filestore.Open(filepath.Join(dir, "hits.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if _, err := fs.Apply(context.Background(), counter.Create("kept", 42)); err != nil {
		t.Fatal(err)
	}
	h := maintained(t, fs, httpapi.Maintenance{Snapshotter: fs})
	w := admin(t, h, http.MethodGet, "/admin/snapshot", "k", nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET /admin/snapshot: %d %v", w.Code, w.Header())
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, w.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := filestore.Open(copyPath)
	if err != nil {
		t.Fatalf("open the snapshot: %v", err)
	}
	defer restored.Close()
	if c, err := restored.Get(context.Background(), "kept"); err != nil || c.Count != 42 {
		t.Errorf("snapshot holds %+v, %v; want kept at 42", c, err)
	}
}
