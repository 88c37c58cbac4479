package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// wrap adds the operation and counter name to err.
func wrap(op, name string, err error) error {
	if name == "" {
		return fmt.Errorf("dynamodb: %s: %w", op, err)
	}
	return fmt.Errorf("dynamodb: %s %q: %w", op, name, err)
}

// conditionFailed returns the ConditionalCheckFailedException in err's
// chain, or nil.
func conditionFailed(err error) *types.ConditionalCheckFailedException {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf
	}
	return nil
}

// throttlingCodes are the error codes with which DynamoDB refuses a request
// for lack of capacity, without applying it.
var throttlingCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"Throttling":                             true,
	"TooManyRequestsException":               true,
	"LimitExceededException":                 true,
}

// isThrottling reports whether err is a throttling answer from DynamoDB.
func isThrottling(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && throttlingCodes[api.ErrorCode()]
}

// translate turns an SDK error (other than a failed condition, which each
// operation interprets) into a counter error kind: Unavailable for faults
// that retrying later can cure (throttling, timeouts, a DynamoDB 5xx, an
// unreachable endpoint); the error itself, which counter.ErrorCode reports as
// Internal, for anything else (a missing table, denied access, a bug).
func translate(err error) error {
	if isUnavailable(err) {
		return counter.UnavailableError(err)
	}
	return err
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || isThrottling(err) || isTransactionConflict(err) {
		return true
	}
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		return true // the SDK's retry budget is spent: DynamoDB kept failing
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return false // DynamoDB answered: a 4xx that retrying will not cure
	}
	// No answer from DynamoDB: the request could not be sent, the connection
	// broke, or the endpoint did not answer in time.
	var conn interface{ ConnectionError() bool }
	var netErr net.Error
	return errors.As(err, &conn) && conn.ConnectionError() || errors.As(err, &netErr)
}

// decode turns a counter's own item (or an idempotency record holding one)
// into a Counter: for a sharded counter, Count is its own item's part.
func decode(item map[string]types.AttributeValue) (counter.Counter, error) {
	name, ok := item[attrName].(*types.AttributeValueMemberS)
	if !ok {
		return counter.Counter{}, fmt.Errorf("item has no string %q", attrName)
	}
	count, err := decodeInt(item, attrCount)
	if err != nil {
		return counter.Counter{}, err
	}
	created, err := decodeInt(item, attrCreatedAt)
	if err != nil {
		return counter.Counter{}, err
	}
	updated, err := decodeInt(item, attrUpdatedAt)
	if err != nil {
		return counter.Counter{}, err
	}
	c := counter.Counter{
		Name:      name.Value,
		Count:     count,
		CreatedAt: time.UnixMilli(created).UTC(),
		UpdatedAt: time.UnixMilli(updated).UTC(),
	}
	if n, err := optionalInt(item, attrShards); err != nil {
		return counter.Counter{}, err
	} else if n > 1 {
		c.Shards = int(n)
	}
	return c, nil
}

func decodeInt(item map[string]types.AttributeValue, attr string) (int64, error) {
	v, ok := item[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("item %v has no number %q", item[attrPK], attr)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("item attribute %q: %w", attr, err)
	}
	return n, nil
}
