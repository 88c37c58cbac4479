package dynamostore

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Keyed writes across regions (WithRegions): a write with an idempotency
// key is exactly-once within a region (its record and its change are one
// transaction). A client that retries the same key in another region,
// after its first attempt committed in the first region but before that
// region's record has replicated (one replication delay, usually about a
// second), would apply it a second time: the two regions' records are two
// writes of one item, which last writer wins settles. So with clients for
// the other regions (WithReplicaClients), a keyed write first reads its
// record in every other region's replica (strongly consistent, each
// within replicaReadTimeout) and, if one holds it, answers it as a replay,
// as a record in its own region would be. What is left: an attempt still
// committing in one region while its retry reads there (the retry of an
// attempt that timed out before it committed), and a region that does not
// answer in time, which the write does without (it is there to survive a
// region that is down).

// replicaReadTimeout bounds the read of a keyed write's record in another
// region's replica: a region that does not answer within it is left out.
const replicaReadTimeout = time.Second

// WithReplicaClients gives the store, with replica regions (WithRegions),
// a client for each other region's replica of the table (by region name;
// the table has the same name in every region): a keyed write reads its
// record there first (see keyed writes across regions above). The serving
// region's entry, if any, is ignored.
func WithReplicaClients(clients map[string]Client) Option {
	return func(s *Store) {
		s.replicas = maps.Clone(clients)
	}
}

// recordElsewhere returns the unexpired record at recordKey in another
// region's replica (nil if none holds one, or none answered), reading the
// regions in turn, in the order WithRegions lists them.
func (s *Store) recordElsewhere(ctx context.Context, recordKey map[string]types.AttributeValue) map[string]types.AttributeValue {
	now := s.now().Unix()
	for _, r := range s.regions {
		client, ok := s.replicas[r]
		if !ok || r == s.region {
			continue
		}
		item, err := readReplica(ctx, client, s.table, recordKey)
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "keyed write: another region's replica did not answer; its record is left out",
				slog.String("region", r), slog.Any("err", err))
			continue
		}
		if len(item) == 0 {
			continue
		}
		if exp, err := optionalInt(item, attrExpiresAt); err == nil && exp >= now {
			return item
		}
	}
	return nil
}

// readReplica reads the item at k from table through client, strongly
// consistent, within replicaReadTimeout, without the SDK's retries (a
// region that does not answer at once is left out, not waited for).
func readReplica(ctx context.Context, client Client, table *string, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	ctx, cancel := context.WithTimeout(ctx, replicaReadTimeout)
	defer cancel()
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: k, ConsistentRead: aws.Bool(true)},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}
