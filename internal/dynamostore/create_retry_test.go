package dynamostore_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

// TestCreateAppliedButUnacknowledged: the first PutItem reaches the real
// DynamoDB Local and is applied, but its answer is lost (the connection
// drops). The SDK retries; the retry's condition fails on the item the
// first attempt wrote, which Create recognizes as its own: 201, not 409.
func TestCreateAppliedButUnacknowledged(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	_, table := newTable(t)
	target, err := url.Parse(ddb.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	var puts atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") && puts.Add(1) == 1 {
			dropConnection(w) // applied, never acknowledged
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)

	store := dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: proxy.URL}, fastRetries), table)
	c, err := store.Create(testContext(t), "retried", 7)
	if err != nil {
		t.Fatalf("Create after an unacknowledged success = %v, want success", err)
	}
	if c.Count != 7 {
		t.Errorf("count = %d, want 7", c.Count)
	}
	if got := puts.Load(); got != 2 {
		t.Errorf("PutItem requests = %d, want 2 (the lost one and the retry)", got)
	}
	// A counter that really was there already is still already_exists.
	_, err = store.Create(testContext(t), "retried", 7)
	if code := counter.ErrorCode(err); code != counter.AlreadyExists {
		t.Errorf("second Create code = %q (err %v), want %q", code, err, counter.AlreadyExists)
	}
}
