package dynamostore_test

import (
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
	proxyURL, puts := dropFirstAnswer(t, ddb.Endpoint(), "PutItem")
	store := dynamostore.New(dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: proxyURL}, fastRetries), table)
	c, err := store.Apply(testContext(t), counter.Create("retried", 7))
	if err != nil {
		t.Fatalf("Create after an unacknowledged success = %v, want success", err)
	}
	if c.Counter.Count != 7 {
		t.Errorf("count = %d, want 7", c.Counter.Count)
	}
	if got := puts.Load(); got != 2 {
		t.Errorf("PutItem requests = %d, want 2 (the lost one and the retry)", got)
	}
	// A counter that really was there already is still already_exists.
	_, err = store.Apply(testContext(t), counter.Create("retried", 7))
	if code := counter.ErrorCode(err); code != counter.AlreadyExists {
		t.Errorf("second Create code = %q (err %v), want %q", code, err, counter.AlreadyExists)
	}
}
