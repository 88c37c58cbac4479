package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// failingClient is a dynamostore.Client whose every call fails with err.
type failingClient struct{ err error }

func (c failingClient) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, c.err
}

func (c failingClient) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, c.err
}

func (c failingClient) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, c.err
}

func (c failingClient) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return nil, c.err
}

func (c failingClient) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, c.err
}

func (c failingClient) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return nil, c.err
}

func (c failingClient) BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return nil, c.err
}

func (c failingClient) TransactGetItems(context.Context, *dynamodb.TransactGetItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	return nil, c.err
}

func (c failingClient) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return nil, c.err
}

// httpError wraps err as the SDK does for an HTTP answer with status.
func httpError(status int, err error) error {
	re := &smithyhttp.ResponseError{Response: &smithyhttp.Response{}, Err: err}
	re.Response.Response = &http.Response{StatusCode: status}
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &awshttp.ResponseError{ResponseError: re}}
}

func sendError(err error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &smithyhttp.RequestSendError{Err: err}}
}

var (
	dialRefused = &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	readReset   = &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
	readEOF     = &url.Error{Op: "Post", URL: "http://127.0.0.1:1", Err: errors.New("EOF")}
)

func TestErrorTranslation(t *testing.T) {
	tests := map[string]struct {
		err  error
		want string // for every operation but Ping, which wants Unavailable for any error
	}{
		"throughput exceeded":  {httpError(400, &types.ProvisionedThroughputExceededException{}), counter.Unavailable},
		"throttling":           {httpError(400, &types.ThrottlingException{}), counter.Unavailable},
		"request limit":        {httpError(400, &types.RequestLimitExceeded{}), counter.Unavailable},
		"generic throttling":   {httpError(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), counter.Unavailable},
		"internal server 500":  {httpError(500, &types.InternalServerError{}), counter.Unavailable},
		"unmodeled 503":        {httpError(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), counter.Unavailable},
		"retry quota spent":    {errors.Join(httpError(500, &types.InternalServerError{}), ratelimit.QuotaExceededError{}), counter.Unavailable},
		"deadline":             {fmt.Errorf("operation error: %w", context.DeadlineExceeded), counter.Unavailable},
		"connection refused":   {sendError(dialRefused), counter.Unavailable},
		"connection reset":     {sendError(readReset), counter.Unavailable},
		"connection closed":    {sendError(readEOF), counter.Unavailable},
		"transaction conflict": {httpError(400, &types.TransactionConflictException{}), counter.Unavailable},
		"missing table":        {httpError(400, &types.ResourceNotFoundException{}), counter.Internal},
		"access denied":        {httpError(400, &smithy.GenericAPIError{Code: "AccessDeniedException"}), counter.Internal},
		"validation":           {httpError(400, &smithy.GenericAPIError{Code: "ValidationException"}), counter.Internal},
		"unknown error":        {errors.New("boom"), counter.Internal},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := dynamostore.New(failingClient{tc.err}, "table")
			ctx := context.Background()
			ops := map[string]error{}
			_, ops["Create"] = s.Apply(ctx, counter.Create("x", 1))
			_, ops["Get"] = s.Get(ctx, "x")
			_, ops["Increment"] = s.Apply(ctx, counter.Increment("x", 1))
			_, ops["Set"] = s.Apply(ctx, counter.Set("x", 1))
			_, ops["Delete"] = s.Apply(ctx, counter.Delete("x"))
			_, ops["List"] = s.List(ctx, counter.ListOptions{})
			_, ops["ApplyKeyed"] = s.Apply(ctx, counter.Write{Op: counter.OpIncrement, Name: "x", By: 1}.WithKey(counter.IdempotencyKey{Key: "k"}))
			for op, err := range ops {
				if got := counter.ErrorCode(err); got != tc.want {
					t.Errorf("%s: code %q (err %v), want %q", op, got, err, tc.want)
				}
				if !errors.Is(err, tc.err) {
					t.Errorf("%s: error %v does not wrap the cause", op, err)
				}
			}
			if got := counter.ErrorCode(s.Ping(ctx)); got != counter.Unavailable {
				t.Errorf("Ping: code %q, want %q", got, counter.Unavailable)
			}
		})
	}
}

func TestConditionFailureTranslation(t *testing.T) {
	ccf := func(item map[string]types.AttributeValue) error {
		return httpError(400, &types.ConditionalCheckFailedException{Item: item})
	}
	existing := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "c#x"}, "name": &types.AttributeValueMemberS{Value: "x"},
		"count": &types.AttributeValueMemberN{Value: "41"}, "created_at": &types.AttributeValueMemberN{Value: "1"},
		"updated_at": &types.AttributeValueMemberN{Value: "2"},
	}
	ctx := context.Background()
	tests := map[string]struct {
		op       func(s *dynamostore.Store) error
		item     map[string]types.AttributeValue
		want     string
		wantText string
	}{
		"create taken":         {func(s *dynamostore.Store) error { _, err := s.Apply(ctx, counter.Create("x", 1)); return err }, existing, counter.AlreadyExists, `dynamodb: create "x": already_exists`},
		"increment missing":    {func(s *dynamostore.Store) error { _, err := s.Apply(ctx, counter.Increment("x", 1)); return err }, nil, counter.NotFound, `dynamodb: increment "x": not_found`},
		"increment over range": {func(s *dynamostore.Store) error { _, err := s.Apply(ctx, counter.Increment("x", -42)); return err }, existing, counter.OutOfRange, `(count 41) by -42`},
		"increment bad item":   {func(s *dynamostore.Store) error { _, err := s.Apply(ctx, counter.Increment("x", 1)); return err }, map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "c#x"}}, counter.Internal, `dynamodb: increment "x"`},
		"delete missing":       {func(s *dynamostore.Store) error { _, err := s.Apply(ctx, counter.Delete("x")); return err }, nil, counter.NotFound, `dynamodb: delete "x": not_found`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.op(dynamostore.New(failingClient{ccf(tc.item)}, "table"))
			if got := counter.ErrorCode(err); got != tc.want {
				t.Fatalf("code %q (err %v), want %q", got, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not contain %q", err, tc.wantText)
			}
		})
	}
}

func TestSafeToRetry(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"throttling":           {httpError(400, &types.ThrottlingException{}), true},
		"throughput exceeded":  {httpError(400, &types.ProvisionedThroughputExceededException{}), true},
		"request limit":        {httpError(400, &types.RequestLimitExceeded{}), true},
		"transaction conflict": {httpError(400, &types.TransactionConflictException{}), true},
		"connection refused":   {sendError(dialRefused), true},
		"dns failure":          {sendError(&url.Error{Op: "Post", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsTemporary: true}}}), true},
		"connection reset":     {sendError(readReset), false},
		"connection closed":    {sendError(readEOF), false},
		"internal server":      {httpError(500, &types.InternalServerError{}), false},
		"service unavailable":  {httpError(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), false},
		"deadline":             {context.DeadlineExceeded, false},
		"condition failed":     {httpError(400, &types.ConditionalCheckFailedException{}), false},
		"nil":                  {nil, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := dynamostore.SafeToRetry(tc.err); got != tc.want {
				t.Errorf("SafeToRetry(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
