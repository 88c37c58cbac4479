package dynamostore_test

import (
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/counter/countertest"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamoproxy"
)

func TestConformance(t *testing.T) {
	countertest.Run(t, func(t *testing.T) counter.Store { return newStore(t) })
}

// conformanceLimits throttle each key in the sharded conformance run: the
// cases' load (64 clients on one counter) goes past one key's writes, not
// past its shards'.
var conformanceLimits = dynamoproxy.Limits{WriteUnits: 150, ReadUnits: 450}

// TestConformanceSharded runs the conformance suite on sharded counters
// (countertest.RunSharded), behind a proxy that throttles each key as
// DynamoDB does: DynamoDB Local never throttles.
func TestConformanceSharded(t *testing.T) {
	countertest.RunSharded(t, func(t *testing.T) counter.Store {
		th := newThrottled(t, conformanceLimits)
		return dynamostore.New(th.client, th.table)
	})
}

func TestIncrementOutOfRangeTellsCount(t *testing.T) {
	s := newStore(t)
	ctx := testContext(t)
	tests := map[string]struct {
		by       int64
		wantCode string
		wantMsg  string
	}{
		"below zero": {by: -6, wantCode: counter.OutOfRange, wantMsg: "(count 5) by -6"},
		"above max":  {by: counter.MaxCount - 4, wantCode: counter.OutOfRange, wantMsg: "(count 5) by"},
		"to zero":    {by: -5},
		"to max":     {by: counter.MaxCount - 5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			target := strings.ReplaceAll(name, " ", "-")
			if _, err := s.Apply(ctx, counter.Create(target, 5)); err != nil {
				t.Fatalf("Create: %v", err)
			}
			got, err := s.Apply(ctx, counter.Increment(target, tc.by))
			if code := counter.ErrorCode(err); code != tc.wantCode {
				t.Fatalf("Increment(%q, %d) code = %q (err %v), want %q", target, tc.by, code, err, tc.wantCode)
			}
			after, gerr := s.Get(ctx, target)
			if gerr != nil {
				t.Fatalf("Get: %v", gerr)
			}
			if err != nil {
				if msg := counter.ErrorMessage(err); !strings.Contains(msg, tc.wantMsg) {
					t.Errorf("message = %q, want it to contain %q", msg, tc.wantMsg)
				}
				if !strings.HasPrefix(err.Error(), `dynamodb: increment "`+target+`": `) {
					t.Errorf("error %q lacks the operation context", err)
				}
				if after.Count != 5 {
					t.Errorf("count after a failed increment = %d, want 5", after.Count)
				}
				return
			}
			if want := 5 + tc.by; got.Counter.Count != want || after.Count != want {
				t.Errorf("count = %d (Get: %d), want %d", got.Counter.Count, after.Count, want)
			}
		})
	}
}

func TestSetKeepsCreatedAt(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	client, table := newTable(t)
	s := dynamostore.New(client, table, dynamostore.WithClock(func() time.Time { return clock }))
	ctx := testContext(t)
	r, err := s.Apply(ctx, counter.Set("s", 3))
	created := r.Counter
	if err != nil || !r.Created {
		t.Fatalf("Set new = %+v, %v; want created", r, err)
	}
	if want := clock.Truncate(time.Millisecond); !created.CreatedAt.Equal(want) || created.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v UTC", created.CreatedAt, want)
	}
	clock = clock.Add(time.Hour)
	r, err = s.Apply(ctx, counter.Set("s", 9))
	updated := r.Counter
	if err != nil || r.Created {
		t.Fatalf("Set existing = %+v, %v; want not created", r, err)
	}
	if !updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.Equal(clock.Truncate(time.Millisecond)) {
		t.Errorf("after second Set: created %v updated %v; want created %v updated %v", updated.CreatedAt, updated.UpdatedAt, created.CreatedAt, clock)
	}
	if got, err := s.Get(ctx, "s"); err != nil || got != updated {
		t.Errorf("Get = %+v, %v; want %+v", got, err, updated)
	}
}

// TestListSkipsOtherItems checks that items that are not counters (shards,
// idempotency records, whatever else the table may hold) never appear in a
// listing.
func TestListSkipsOtherItems(t *testing.T) {
	client, table := newTable(t)
	s := dynamostore.New(client, table)
	ctx := testContext(t)
	for _, pk := range []string{"c#a#1", "s#hot#1", "i#token", "health#ping"} {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item:      map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}},
		})
		if err != nil {
			t.Fatalf("PutItem(%q): %v", pk, err)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := s.Apply(ctx, counter.Create(name, 1)); err != nil {
			t.Fatalf("Create(%q): %v", name, err)
		}
	}
	for _, limit := range []int{1, 2, 100} {
		var got []string
		cursor := ""
		for range 100 {
			page, err := s.List(ctx, counter.ListOptions{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("List(limit %d): %v", limit, err)
			}
			for _, c := range page.Counters {
				got = append(got, c.Name)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(got) != 3 {
			t.Errorf("limit %d: listed %v, want a, b and c once each", limit, got)
		}
	}
}

func TestListRejectsForeignCursors(t *testing.T) {
	s := newStore(t)
	ctx := testContext(t)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := s.Apply(ctx, counter.Create(name, 1)); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	page, err := s.List(ctx, counter.ListOptions{Limit: 1})
	if err != nil || page.NextCursor == "" {
		t.Fatalf("List(limit 1) = %+v, %v; want a cursor", page, err)
	}
	good := page.NextCursor
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", good, err)
	}
	flipped := []byte(raw)
	flipped[len(flipped)-10] ^= 1 // a character of the key
	enc := base64.RawURLEncoding.EncodeToString
	tests := map[string]string{
		"not base64":       "!!!",
		"truncated":        good[:len(good)-2],
		"truncated raw":    enc(raw[:len(raw)-1]),
		"edited key":       enc(flipped),
		"other version":    enc([]byte(strings.Replace(string(raw), "d2:", "d9:", 1))),
		"before the index": enc(fmt.Appendf(nil, "d1:c#a%08x", crc32.ChecksumIEEE([]byte("d1:c#a")))),
		"memstore cursor":  enc([]byte("m1:a")),
		"empty payload":    enc([]byte("x")),
		"padded":           good + "==",
	}
	for name, cursor := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := s.List(ctx, counter.ListOptions{Limit: 1, Cursor: cursor})
			if code := counter.ErrorCode(err); code != counter.InvalidRequest {
				t.Fatalf("List(cursor %q) code = %q (err %v), want %q", cursor, code, err, counter.InvalidRequest)
			}
		})
	}
	if _, err := s.List(ctx, counter.ListOptions{Limit: 1, Cursor: good}); err != nil {
		t.Fatalf("List with the issued cursor: %v", err)
	}
}

func TestMissingTableIsInternal(t *testing.T) {
	client, _ := newTable(t)
	s := dynamostore.New(client, "no-such-table")
	ctx := testContext(t)
	_, err := s.Get(ctx, "x")
	if code := counter.ErrorCode(err); code != counter.Internal {
		t.Fatalf("Get on a missing table: code %q (err %v), want %q", code, err, counter.Internal)
	}
	if code := counter.ErrorCode(s.Ping(ctx)); code != counter.Unavailable {
		t.Fatalf("Ping on a missing table: code %q, want %q", code, counter.Unavailable)
	}
}
