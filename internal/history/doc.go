// Package history keeps hits over time: its Aggregator adds the increments
// recorded in the counter table's stream into hour and day buckets of the
// stats table, each exactly once, which dynamostore.Store.Stats reads.
//
// It knows nothing of Lambda: it takes stream records as Record and answers
// a BatchResult. Each host converts at its edge: internal/lambdafn from
// Lambda's DynamoDB event (the aggregate function), internal/streampoll from
// the DynamoDB Streams API (the standalone server on DynamoDB Local), and
// tools/localapi to Lambda's event for the aggregate function's bootstrap.
//
// The layouts of the counter item and of the stats table are
// internal/dynamostore's, which reads both (Store.Get, Store.Stats); this
// package imports the few pieces it writes with (DecodeCounterImage,
// StatsBucketKey, StatsExpiry, StatsLastSeq, StatsHistoryQuery and two
// attribute names), so the dependency runs history -> dynamostore ->
// counter. The other way round, dynamostore would import history for the
// stats layout while history needed dynamostore to decode a counter item:
// a cycle, or the counter item's layout in two places.
package history
