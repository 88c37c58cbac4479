package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableClient is the part of *dynamodb.Client that CreateTable,
// CreateStatsTable and StreamARN use.
type TableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ TableClient = (*dynamodb.Client)(nil)

// streamSpec is the counter table's stream: the aggregator of hits over time
// reads the old and new image of every change.
var streamSpec = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}

// CreateTable creates the counter table (partition key pk, a string; on-demand
// capacity; a stream of new and old images; the listing index, IndexName)
// unless it exists, adds the listing index to a table created before it,
// waits until both are active, and enables TTL on expires_at (idempotency
// records). DynamoDB
// Local applies TTL as DynamoDB does, but within seconds of the expiry; the
// store never relies on an expired record being gone. It is meant for tests and local development; production tables come
// from the SAM template.
func CreateTable(ctx context.Context, client TableClient, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrName), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{listingIndex},
		BillingMode:            types.BillingModePayPerRequest,
		StreamSpecification:    streamSpec,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamodb: create table %q: %w", table, err)
	}
	desc, err := waitActive(ctx, client, table)
	if err != nil {
		return err
	}
	if err := addListingIndex(ctx, client, table, desc); err != nil {
		return err
	}
	return enableTTL(ctx, client, table)
}

// listingIndex is the counter table's listing index (IndexName).
var listingIndex = types.GlobalSecondaryIndex{
	IndexName:  aws.String(IndexName),
	KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(attrName), KeyType: types.KeyTypeHash}},
	Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
}

// addListingIndex adds the listing index to a table that lacks it (created
// before it existed), and waits until the index is active: DynamoDB fills
// it with the counters already there.
func addListingIndex(ctx context.Context, client TableClient, table string, desc *types.TableDescription) error {
	for {
		var index *types.GlobalSecondaryIndexDescription
		for i := range desc.GlobalSecondaryIndexes {
			if aws.ToString(desc.GlobalSecondaryIndexes[i].IndexName) == IndexName {
				index = &desc.GlobalSecondaryIndexes[i]
			}
		}
		switch {
		case index == nil:
			_, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
				TableName:            aws.String(table),
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrName), AttributeType: types.ScalarAttributeTypeS}},
				GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{
					IndexName: listingIndex.IndexName, KeySchema: listingIndex.KeySchema, Projection: listingIndex.Projection,
				}}},
			})
			if err != nil {
				return fmt.Errorf("dynamodb: add index %q to table %q: %w", IndexName, table, err)
			}
		case index.IndexStatus == types.IndexStatusActive:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamodb: index %q of table %q not active: %w", IndexName, table, ctx.Err())
		case <-time.After(100 * time.Millisecond): // DynamoDB has no change notification
		}
		var err error
		if desc, err = waitActive(ctx, client, table); err != nil {
			return err
		}
	}
}

// enableTTL turns on TTL on expires_at unless it is on.
func enableTTL(ctx context.Context, client TableClient, table string) error {
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("dynamodb: describe TTL of table %q: %w", table, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == attrExpiresAt &&
		(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return nil
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpiresAt),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamodb: enable TTL on table %q: %w", table, err)
	}
	return nil
}

// StreamARN returns the ARN of the counter table's stream, turning the
// stream on first (and waiting until the table is active again) if the
// table has none, as a table created before streams were used. Like
// CreateTable, it is meant for tests and local development.
func StreamARN(ctx context.Context, client TableClient, table string) (string, error) {
	desc, err := waitActive(ctx, client, table)
	if err != nil {
		return "", err
	}
	if s := desc.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) && desc.LatestStreamArn != nil {
		if s.StreamViewType != types.StreamViewTypeNewAndOldImages {
			return "", fmt.Errorf("dynamodb: table %q: its stream has %s, the aggregator needs %s", table, s.StreamViewType, types.StreamViewTypeNewAndOldImages)
		}
		return *desc.LatestStreamArn, nil
	}
	if _, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(table), StreamSpecification: streamSpec}); err != nil {
		return "", fmt.Errorf("dynamodb: turn on the stream of table %q: %w", table, err)
	}
	if desc, err = waitActive(ctx, client, table); err != nil {
		return "", err
	}
	if desc.LatestStreamArn == nil {
		return "", fmt.Errorf("dynamodb: table %q has no stream after turning it on", table)
	}
	return *desc.LatestStreamArn, nil
}

// waitActive waits until the table is active and returns its description.
func waitActive(ctx context.Context, client TableClient, table string) (*types.TableDescription, error) {
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return nil, fmt.Errorf("dynamodb: describe table %q: %w", table, err)
		}
		if out.Table != nil && out.Table.TableStatus == types.TableStatusActive {
			return out.Table, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dynamodb: table %q not active: %w", table, ctx.Err())
		case <-time.After(100 * time.Millisecond): // DynamoDB has no change notification
		}
	}
}
