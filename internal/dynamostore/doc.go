// Package dynamostore is the production counter.Store, on Amazon DynamoDB
// through aws-sdk-go-v2.
//
// Every operation is one DynamoDB request and every change is atomic on the
// server side: conditional PutItem, UpdateItem and DeleteItem, strongly
// consistent GetItem and Scan. A failed condition is told apart
// (not_found, out_of_range, already_exists) from the old item DynamoDB returns
// with the failure, without a second request. AWS errors are translated into
// counter error kinds once, at this package's edge.
//
// An increment is never applied twice by the SDK's retries: Increment runs
// with a retryer that retries only errors that prove DynamoDB did not apply
// the request (a throttling answer from DynamoDB itself, or a failure to
// connect). See docs/dynamodb.md for the key schema and the design.
//
// Hits over time live in a second table that Store.Stats reads and
// internal/history's aggregator writes; the layouts of both tables are
// defined here only, with the few pieces the aggregator needs exported
// (DecodeCounterImage and the Stats* names).
package dynamostore
