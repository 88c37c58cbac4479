package iamgate

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fakeSchemas: hitcounter is keyed by pk, with a global index byName on
// another key and a local one, byCount; hitcounter-stats by pk.
type fakeSchemas struct{}

func (fakeSchemas) partitionKey(_ context.Context, table, index string) (string, error) {
	switch {
	case table == "hitcounter" && index == "byName":
		return "", nil
	case index == "" || index == "byCount":
		return "pk", nil
	}
	return "", fmt.Errorf("no index %s", index)
}

const statsARN = "arn:aws:dynamodb:ddblocal:000000000000:table/hitcounter-stats"

func keys(kv ...string) map[string][]string {
	m := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

// TestChecks: each request becomes the checks IAM makes for it: a
// transaction or a batch item by item, with the item's own action and
// partition key.
func TestChecks(t *testing.T) {
	tests := map[string]struct {
		target, body string
		want         []check
	}{
		"GetItem": {"DynamoDB_20120810.GetItem", `{"TableName":"hitcounter","Key":{"pk":{"S":"c#home"}}}`,
			[]check{{action: "dynamodb:GetItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#home")}}},
		"PutItem, by table ARN": {"DynamoDB_20120810.PutItem", `{"TableName":"` + testTableARN + `","Item":{"pk":{"S":"c#home"},"count":{"N":"1"}}}`,
			[]check{{action: "dynamodb:PutItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#home")}}},
		"UpdateItem": {"DynamoDB_20120810.UpdateItem", `{"TableName":"hitcounter","Key":{"pk":{"S":"c#home"}},"UpdateExpression":"ADD #c :one"}`,
			[]check{{action: "dynamodb:UpdateItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#home")}}},
		"DeleteItem of a number key": {"DynamoDB_20120810.DeleteItem", `{"TableName":"hitcounter","Key":{"pk":{"N":"42"}}}`,
			[]check{{action: "dynamodb:DeleteItem", resource: testTableARN, keys: keys(keyLeadingKeys, "42")}}},
		"GetItem without its key": {"DynamoDB_20120810.GetItem", `{"TableName":"hitcounter","Key":{"sk":{"S":"x"}}}`,
			[]check{{action: "dynamodb:GetItem", resource: testTableARN, keys: map[string][]string{},
				unknown: map[string]string{keyLeadingKeys: "partition key pk <nil>: missing, or not a string or a number"}}}},
		"Query": {"DynamoDB_20120810.Query", `{"TableName":"hitcounter-stats","KeyConditionExpression":"#pk = :pk AND #sk BETWEEN :a AND :b",
			"ExpressionAttributeNames":{"#pk":"pk","#sk":"sk"},"ExpressionAttributeValues":{":pk":{"S":"home#1"},":a":{"S":"h#1"},":b":{"S":"h#2"}}}`,
			[]check{{action: "dynamodb:Query", resource: statsARN, keys: keys(keyLeadingKeys, "home#1")}}},
		"Query, value first": {"DynamoDB_20120810.Query", `{"TableName":"hitcounter-stats","KeyConditionExpression":"(:pk = pk)",
			"ExpressionAttributeValues":{":pk":{"S":"home#1"}}}`,
			[]check{{action: "dynamodb:Query", resource: statsARN, keys: keys(keyLeadingKeys, "home#1")}}},
		"Query, legacy KeyConditions": {"DynamoDB_20120810.Query", `{"TableName":"hitcounter-stats","KeyConditions":{"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"home#1"}]}}}`,
			[]check{{action: "dynamodb:Query", resource: statsARN, keys: keys(keyLeadingKeys, "home#1")}}},
		"Query of a local index": {"DynamoDB_20120810.Query", `{"TableName":"hitcounter","IndexName":"byCount","KeyConditionExpression":"pk = :v","ExpressionAttributeValues":{":v":{"S":"c#a"}}}`,
			[]check{{action: "dynamodb:Query", resource: testTableARN + "/index/byCount", keys: keys(keyLeadingKeys, "c#a")}}},
		"Query of a global index": {"DynamoDB_20120810.Query", `{"TableName":"hitcounter","IndexName":"byName","KeyConditionExpression":"#n = :v","ExpressionAttributeNames":{"#n":"name"},"ExpressionAttributeValues":{":v":{"S":"a"}}}`,
			[]check{{action: "dynamodb:Query", resource: testTableARN + "/index/byName", keys: map[string][]string{},
				unknown: map[string]string{keyLeadingKeys: "a query whose partition key is not its table's, or of a table DynamoDB does not have"}}}},
		"Scan": {"DynamoDB_20120810.Scan", `{"TableName":"hitcounter","Limit":10}`,
			[]check{{action: "dynamodb:Scan", resource: testTableARN, keys: map[string][]string{}}}},
		"BatchGetItem": {"DynamoDB_20120810.BatchGetItem", `{"RequestItems":{"hitcounter-stats":{"Keys":[{"pk":{"S":"b"}}]},"hitcounter":{"Keys":[{"pk":{"S":"c#a"}},{"pk":{"S":"c#b"}}]}}}`,
			[]check{
				{action: "dynamodb:BatchGetItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#a")},
				{action: "dynamodb:BatchGetItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#b")},
				{action: "dynamodb:BatchGetItem", resource: statsARN, keys: keys(keyLeadingKeys, "b")},
			}},
		"BatchWriteItem": {"DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"hitcounter-stats":[{"DeleteRequest":{"Key":{"pk":{"S":"a#1"},"sk":{"S":"h#1"}}}},{"PutRequest":{"Item":{"pk":{"S":"b#2"},"sk":{"S":"d#1"}}}}]}}`,
			[]check{
				{action: "dynamodb:BatchWriteItem", resource: statsARN, keys: keys(keyLeadingKeys, "a#1")},
				{action: "dynamodb:BatchWriteItem", resource: statsARN, keys: keys(keyLeadingKeys, "b#2")},
			}},
		"TransactWriteItems": {"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[
			{"Update":{"TableName":"hitcounter","Key":{"pk":{"S":"c#a"}},"UpdateExpression":"SET x = :x"}},
			{"Put":{"TableName":"hitcounter","Item":{"pk":{"S":"i#k"}}}},
			{"Delete":{"TableName":"hitcounter","Key":{"pk":{"S":"c#b"}}}},
			{"ConditionCheck":{"TableName":"hitcounter","Key":{"pk":{"S":"c#c"}},"ConditionExpression":"attribute_exists(pk)"}}],"ClientRequestToken":"t"}`,
			[]check{
				{action: "dynamodb:UpdateItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#a", keyEnclosingOperation, "TransactWriteItems")},
				{action: "dynamodb:PutItem", resource: testTableARN, keys: keys(keyLeadingKeys, "i#k", keyEnclosingOperation, "TransactWriteItems")},
				{action: "dynamodb:DeleteItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#b", keyEnclosingOperation, "TransactWriteItems")},
				{action: "dynamodb:ConditionCheckItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#c", keyEnclosingOperation, "TransactWriteItems")},
			}},
		"TransactGetItems": {"DynamoDB_20120810.TransactGetItems", `{"TransactItems":[{"Get":{"TableName":"hitcounter","Key":{"pk":{"S":"c#a"}}}}]}`,
			[]check{{action: "dynamodb:GetItem", resource: testTableARN, keys: keys(keyLeadingKeys, "c#a", keyEnclosingOperation, "TransactGetItems")}}},
		"DescribeStream": {"DynamoDBStreams_20120810.DescribeStream", `{"StreamArn":"` + testStreamARN + `"}`,
			[]check{{action: "dynamodb:DescribeStream", resource: testStreamARN}}},
		"GetShardIterator": {"DynamoDBStreams_20120810.GetShardIterator", `{"StreamArn":"` + testStreamARN + `","ShardId":"s","ShardIteratorType":"TRIM_HORIZON"}`,
			[]check{{action: "dynamodb:GetShardIterator", resource: testStreamARN}}},
		"GetRecords": {"DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"` + testStreamARN + `|001|c2hhcmQ=","Limit":10}`,
			[]check{{action: "dynamodb:GetRecords", resource: testStreamARN}}},
		"ListStreams": {"DynamoDBStreams_20120810.ListStreams", `{"TableName":"hitcounter"}`,
			[]check{{action: "dynamodb:ListStreams", resource: "*"}}},
		"DescribeTable": {"DynamoDB_20120810.DescribeTable", `{"TableName":"hitcounter"}`,
			[]check{{action: "dynamodb:DescribeTable", resource: testTableARN}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := parseRequest(tc.target, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := req.checks(context.Background(), &testResources, fakeSchemas{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("checks:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestChecksNotUnderstood: a request the gate cannot read is an error,
// which the gate answers as a refusal.
func TestChecksNotUnderstood(t *testing.T) {
	tests := map[string]struct {
		target, body, want string
	}{
		"PartiQL":             {"DynamoDB_20120810.ExecuteStatement", `{"Statement":"SELECT * FROM hitcounter"}`, "operation ExecuteStatement"},
		"another service":     {"TrentService.Decrypt", `{}`, "neither DynamoDB's nor DynamoDB Streams'"},
		"not JSON":            {"DynamoDB_20120810.GetItem", `{"TableName":`, "GetItem: body"},
		"no table":            {"DynamoDB_20120810.GetItem", `{"Key":{"pk":{"S":"a"}}}`, "no TableName"},
		"an empty batch":      {"DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{}}`, "without RequestItems"},
		"a Get in a write":    {"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Get":{"TableName":"hitcounter","Key":{"pk":{"S":"a"}}}}]}`, "item 0: Get"},
		"an iterator of none": {"DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"opaque"}`, "names no stream"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := parseRequest(tc.target, []byte(tc.body))
			if err == nil {
				_, err = req.checks(context.Background(), &testResources, fakeSchemas{})
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
