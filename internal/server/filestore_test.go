package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/tools/apitest"
)

// TestContractOnFileStore runs the whole HTTP contract against the
// standalone server on the durable file store, as the image runs it.
func TestContractOnFileStore(t *testing.T) {
	url, _, _ := start(t, map[string]string{
		"STORE":     "file",
		"DATA_PATH": filepath.Join(t.TempDir(), "hits.db"),
		"API_KEYS":  "contract-key",
	})
	apitest.Run(t, url, apitest.Options{APIKey: "contract-key", Visitors: true})
}

// TestFileStoreAcrossRestarts: what the server acknowledged is served
// again by a new server on the same file; a snapshot taken through GET
// /admin/snapshot restores it; an export moves it to a memory server.
func TestFileStoreAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"STORE": "file", "DATA_PATH": filepath.Join(dir, "hits.db"), "API_KEYS": "k"}
	key := map[string]string{"X-Api-Key": "k"}
	url, logs, stop := start(t, env)
	if res, body := do(t, http.MethodPost, url+"/counters", `{"name":"home"}`, key); res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	for range 3 {
		do(t, http.MethodPost, url+"/counters/home/increment", "", nil)
	}
	res, snapshot := do(t, http.MethodGet, url+"/admin/snapshot", "", key)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("snapshot: %d", res.StatusCode)
	}
	res, export := do(t, http.MethodGet, url+"/admin/export", "", key)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", res.StatusCode, export)
	}
	do(t, http.MethodPost, url+"/counters/home/increment", "", nil) // after the snapshot
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"store":"file","data_path":"`+env["DATA_PATH"]+`"`) {
		t.Errorf("the listening line does not name the data file: %s", logs)
	}

	url, _, stop = start(t, env)
	if _, body := do(t, http.MethodGet, url+"/counters/home", "", nil); !strings.Contains(body, `"count":4`) {
		t.Errorf("after a restart: %s, want count 4", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(dir, "restored.db")
	if err := os.WriteFile(restored, []byte(snapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	url, _, _ = start(t, map[string]string{"STORE": "file", "DATA_PATH": restored})
	if _, body := do(t, http.MethodGet, url+"/counters/home", "", nil); !strings.Contains(body, `"count":3`) {
		t.Errorf("from the snapshot: %s, want count 3", body)
	}

	mem, _, _ := start(t, map[string]string{"API_KEYS": "k"})
	req, err := http.NewRequest(http.MethodPost, mem+"/admin/import", bytes.NewReader([]byte(export)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", "k")
	imp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(imp.Body)
	imp.Body.Close()
	if imp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"imported":1`) {
		t.Fatalf("import into the memory server: %d %s", imp.StatusCode, body)
	}
	if _, body := do(t, http.MethodGet, mem+"/counters/home", "", nil); !strings.Contains(body, `"count":3`) {
		t.Errorf("imported into memory: %s, want count 3", body)
	}
	if res, _ := do(t, http.MethodGet, mem+"/admin/snapshot", "", key); res.StatusCode != http.StatusNotFound {
		t.Errorf("snapshot on the memory store: %d, want 404", res.StatusCode)
	}
}

// TestTrustedProxyClientLogged: behind a trusted proxy, the request log
// names the client from X-Forwarded-For, unless unique visitors are
// counted: then it gives the client's daily pseudonym, and no address.
func TestTrustedProxyClientLogged(t *testing.T) {
	for _, uniques := range []string{"false", "true"} {
		t.Run("UNIQUES="+uniques, func(t *testing.T) {
			url, logs, stop := start(t, map[string]string{"TRUSTED_PROXIES": "127.0.0.1", "UNIQUES": uniques})
			do(t, http.MethodGet, url+"/health", "", map[string]string{"X-Forwarded-For": "198.51.100.9"})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			named := strings.Contains(logs.String(), `"client":"198.51.100.9"`)
			if uniques == "false" && !named {
				t.Errorf("the request log does not name the client: %s", logs)
			}
			if uniques == "true" {
				for _, line := range strings.Split(logs.String(), "\n") {
					if strings.Contains(line, `"msg":"request"`) && (strings.Contains(line, "198.51.100.9") || strings.Contains(line, "127.0.0.1")) {
						t.Errorf("the request log names an address: %s", line)
					}
				}
				if !regexp.MustCompile(`"client":"[0-9a-f]{16}"`).MatchString(logs.String()) {
					t.Errorf("the request log has no pseudonym of the client: %s", logs)
				}
			}
		})
	}
}
