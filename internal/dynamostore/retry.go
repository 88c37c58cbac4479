package dynamostore

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// NoAmbiguousRetry is a per-operation option for the DynamoDB client's
// methods. It keeps the client's retryer (attempts, backoff, retry budget)
// but lets it retry only an error that proves DynamoDB did not apply the
// request (see SafeToRetry). Increment runs with it, so an increment is
// never applied twice by the SDK's own retries.
func NoAmbiguousRetry(o *dynamodb.Options) {
	switch r := o.Retryer.(type) {
	case nil:
	case aws.RetryerV2:
		o.Retryer = safeRetryer{r}
	default:
		o.Retryer = safeRetryer{retryerV2{r}}
	}
}

// SafeToRetry reports whether err proves that a request did not reach
// DynamoDB or was refused by it unapplied, so resending it cannot apply it
// twice: a throttling answer from DynamoDB (ThrottlingException,
// ProvisionedThroughputExceededException, RequestLimitExceeded, ...), a
// TransactionConflictException (a keyed write's transaction held the item),
// or a failure to open the connection (dial errors, connection refused, DNS).
//
// Anything else is ambiguous or final: a connection that broke or timed out
// once the request may have been sent, a 500 whose outcome is unknown, and
// every other answer.
func SafeToRetry(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if isThrottling(err) || isTransactionConflict(err) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// safeRetryer narrows the retryable errors of the retryer it wraps to those
// SafeToRetry accepts.
type safeRetryer struct {
	aws.RetryerV2
}

// IsErrorRetryable reports whether err is safe to retry and the wrapped
// retryer would retry it.
func (r safeRetryer) IsErrorRetryable(err error) bool {
	return SafeToRetry(err) && r.RetryerV2.IsErrorRetryable(err)
}

// retryerV2 adapts a retryer without GetAttemptToken, as the SDK's retry
// middleware does.
type retryerV2 struct {
	aws.Retryer
}

func (r retryerV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
