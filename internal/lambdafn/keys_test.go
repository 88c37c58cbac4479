package lambdafn_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/lambdafn"
)

// TestKeyDigests checks the admin routes' key check that a function does
// itself behind an HTTP API (API_KEY_DIGESTS, from the template's
// AdminKeyDigests): each admin route's 2.0 event with its key passes, and
// without it, or with another, is 401 with WWW-Authenticate and the JSON
// error, as the standalone server answers.
func TestKeyDigests(t *testing.T) {
	const key = "local-test-key-0123456789" // the events' x-api-key
	sum := sha256.Sum256([]byte(key))
	other := sha256.Sum256([]byte("another key"))
	env := map[string]string{"STORE": "memory", "API_KEY_DIGESTS": hex.EncodeToString(other[:]) + "," + hex.EncodeToString(sum[:])}
	for _, route := range httpapi.Routes {
		if !route.Admin {
			continue
		}
		for name, presented := range map[string]string{"key": key, "no key": "", "wrong key": "local-test-key-012345678"} {
			t.Run(route.Name+"/"+name, func(t *testing.T) {
				h, err := lambdafn.New(context.Background(), lambdafn.Function{Routes: []string{route.Name}}, func(k string) string { return env[k] }, nil)
				if err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(filepath.Join("..", "..", "events", "http", route.Name+".json"))
				if err != nil {
					t.Fatal(err)
				}
				var event events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(data, &event); err != nil {
					t.Fatal(err)
				}
				if event.Headers["x-api-key"] != key {
					t.Fatalf("the event's x-api-key is %q, want %q", event.Headers["x-api-key"], key)
				}
				delete(event.Headers, "x-api-key")
				if presented != "" {
					event.Headers["x-api-key"] = presented
				}
				resp, err := h.V2(context.Background(), event)
				if err != nil {
					t.Fatal(err)
				}
				if presented == key {
					if resp.StatusCode == http.StatusUnauthorized {
						t.Errorf("401 with the key: %s", resp.Body)
					}
					return
				}
				var body struct{ Error struct{ Code string } }
				_ = json.Unmarshal([]byte(resp.Body), &body)
				if resp.StatusCode != http.StatusUnauthorized || resp.Headers["Www-Authenticate"] != httpapi.WWWAuthenticate || body.Error.Code != "unauthorized" ||
					resp.Headers["Content-Type"] != "application/json" {
					t.Errorf("got %d %v %s; want 401 unauthorized with WWW-Authenticate %q", resp.StatusCode, resp.Headers, resp.Body, httpapi.WWWAuthenticate)
				}
			})
		}
	}
}
