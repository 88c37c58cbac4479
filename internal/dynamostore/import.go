package dynamostore

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/counter"
)

var _ counter.Importer = (*Store)(nil)

var (
	importBucket      = aws.String("ADD #h :hits SET #exp = if_not_exists(#exp, :exp)")
	importBucketNames = map[string]string{"#h": attrHits, "#exp": attrExpiresAt}
)

// importWorkers bounds the requests one Import has in flight.
const importWorkers = 8

// Import implements counter.Importer: one conditional PutItem makes the
// counter (the stream's INSERT adds no hits), then one UpdateItem per
// bucket adds its hits to the stats table under the counter's incarnation,
// with ADD, so that a hit the aggregator adds meanwhile is not overwritten.
// If Import fails after the counter was made, the counter has part of its
// history, and importing it again skips it as AlreadyExists.
func (s *Store) Import(ctx context.Context, a counter.Archive) error {
	c := a.Counter
	if err := a.Validate(); err != nil {
		return wrap("import", c.Name, err)
	}
	created := c.CreatedAt.UnixMilli()
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: s.table,
		Item: map[string]types.AttributeValue{
			attrPK:        &types.AttributeValueMemberS{Value: counterPrefix + c.Name},
			attrName:      &types.AttributeValueMemberS{Value: c.Name},
			attrCount:     number(c.Count),
			attrCreatedAt: number(created),
			attrUpdatedAt: number(c.UpdatedAt.UnixMilli()),
		},
		ConditionExpression:      condNotExists,
		ExpressionAttributeNames: createNames,
	})
	if err != nil {
		if conditionFailed(err) != nil {
			return wrap("import", c.Name, counter.AlreadyExistsError(c.Name))
		}
		return wrap("import", c.Name, translate(err))
	}
	now := s.now()
	type bucketHits struct {
		p  counter.Period
		pt counter.Point
	}
	var buckets []bucketHits
	for _, p := range []counter.Period{counter.Hour, counter.Day} {
		points := a.Hours
		if p == counter.Day {
			points = a.Days
		}
		oldest := p.Start(now).Add(-p.Retention() - p.Duration())
		for _, pt := range points {
			if pt.Hits != 0 && !pt.Start.Before(oldest) {
				buckets = append(buckets, bucketHits{p, pt})
			}
		}
	}
	work := make(chan bucketHits)
	var once sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(importWorkers, len(buckets)) {
		wg.Go(func() {
			for b := range work {
				_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                s.statsTable,
					Key:                      StatsBucketKey(c.Name, c.CreatedAt, b.p, b.pt.Start),
					UpdateExpression:         importBucket,
					ExpressionAttributeNames: importBucketNames,
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":hits": number(b.pt.Hits),
						":exp":  number(StatsExpiry(b.p, b.pt.Start)),
					},
				})
				if err != nil {
					once.Do(func() { firstErr = translate(err); cancel() })
				}
			}
		})
	}
feed:
	for _, b := range buckets {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return wrap("import", c.Name, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return wrap("import", c.Name, err)
	}
	return nil
}
