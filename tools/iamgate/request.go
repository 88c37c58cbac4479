package iamgate

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// check is one authorization IAM makes for a request: an action on a
// resource, with the request's condition keys. A request may need several:
// a transaction or a batch is authorized item by item.
type check struct {
	action   string // e.g. dynamodb:PutItem
	resource string // an ARN, or * for an action on no resource
	// keys are the condition keys the request puts in its context, by
	// lower-case name; a key absent from keys and unknown is absent.
	keys map[string][]string
	// unknown are the keys the request has but the gate cannot tell the
	// values of, with why: a statement that reads one refuses the request.
	unknown map[string]string
}

// Targets (X-Amz-Target prefixes) of the JSON protocols the gate reads.
const (
	dynamoDBTarget = "DynamoDB_20120810."
	streamsTarget  = "DynamoDBStreams_20120810."
)

// keyActions are the operations on one item, with the request member that
// holds its key (or the whole item) and whether IAM puts the item's
// partition key in dynamodb:LeadingKeys (the Service Authorization
// Reference lists the key for GetItem, PutItem, UpdateItem, DeleteItem,
// ConditionCheckItem, Query, BatchGetItem and BatchWriteItem, and not for
// Scan nor the streams' actions).
var keyActions = map[string]string{
	"GetItem":            "Key",
	"PutItem":            "Item",
	"UpdateItem":         "Key",
	"DeleteItem":         "Key",
	"ConditionCheckItem": "Key",
}

// tableActions are the operations on a table as a whole (resource: the
// table), without condition keys of their own.
var tableActions = []string{"DescribeTable", "DescribeTimeToLive", "CreateTable", "UpdateTable", "DeleteTable", "UpdateTimeToLive"}

// knownActions are the IAM actions of the requests the gate understands.
var knownActions = func() []string {
	out := []string{"dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
		"dynamodb:ListTables", "dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords", "dynamodb:ListStreams"}
	for a := range keyActions {
		out = append(out, "dynamodb:"+a)
	}
	for _, a := range tableActions {
		out = append(out, "dynamodb:"+a)
	}
	sort.Strings(out)
	return out
}()

// schemas tells the partition key attribute of a table, or of one of its
// indexes ("" for a global secondary index, whose partition key is not the
// table's: IAM's dynamodb:LeadingKeys is the table's).
type schemas interface {
	partitionKey(ctx context.Context, table, index string) (string, error)
}

// request is a DynamoDB or DynamoDB Streams request, decoded.
type request struct {
	operation string         // e.g. TransactWriteItems
	body      map[string]any // its JSON
}

// parseRequest reads the operation and the JSON body of a request.
func parseRequest(target string, body []byte) (request, error) {
	op, ok := strings.CutPrefix(target, dynamoDBTarget)
	if !ok {
		if op, ok = strings.CutPrefix(target, streamsTarget); !ok {
			return request{}, fmt.Errorf("X-Amz-Target %q is neither DynamoDB's nor DynamoDB Streams'", target)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return request{operation: op}, fmt.Errorf("%s: body: %v", op, err)
	}
	return request{operation: op, body: m}, nil
}

// checks returns what IAM authorizes for the request, in the order it
// carries them; an error for a request the gate does not understand.
func (req request) checks(ctx context.Context, res *Resources, s schemas) ([]check, error) {
	b := req.body
	switch op := req.operation; op {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem":
		c, err := itemCheck(ctx, res, s, "dynamodb:"+op, b, keyActions[op], "")
		return []check{c}, err
	case "Query", "Scan":
		table, arn, err := tableOf(res, b["TableName"])
		if err != nil {
			return nil, err
		}
		c := check{action: "dynamodb:" + op, resource: arn, keys: map[string][]string{}}
		index, _ := b["IndexName"].(string)
		if index != "" {
			c.resource = arn + "/index/" + index
		}
		if op == "Query" {
			pk, err := s.partitionKey(ctx, table, index)
			if err != nil {
				return nil, err
			}
			if pk == "" {
				c.unknown = map[string]string{keyLeadingKeys: "a query whose partition key is not its table's, or of a table DynamoDB does not have"}
			} else if v, ok := queryPartitionValue(b, pk); ok {
				c.keys[keyLeadingKeys] = []string{v}
			} else {
				c.unknown = map[string]string{keyLeadingKeys: "a key condition the gate cannot read"}
			}
		}
		return []check{c}, nil
	case "BatchGetItem", "BatchWriteItem":
		items, _ := b["RequestItems"].(map[string]any)
		if len(items) == 0 {
			return nil, fmt.Errorf("%s without RequestItems", op)
		}
		var out []check
		for _, name := range sortedKeys(items) {
			var entries []any
			if op == "BatchGetItem" {
				spec, _ := items[name].(map[string]any)
				entries, _ = spec["Keys"].([]any)
			} else {
				entries, _ = items[name].([]any)
			}
			if len(entries) == 0 {
				return nil, fmt.Errorf("%s: no items for table %s", op, name)
			}
			for _, e := range entries {
				item := map[string]any{"TableName": name}
				member := "Key"
				if op == "BatchGetItem" {
					item["Key"] = e
				} else {
					w, _ := e.(map[string]any)
					if put, ok := w["PutRequest"].(map[string]any); ok {
						item["Item"], member = put["Item"], "Item"
					} else if del, ok := w["DeleteRequest"].(map[string]any); ok {
						item["Key"] = del["Key"]
					} else {
						return nil, fmt.Errorf("%s: a request that is neither a PutRequest nor a DeleteRequest", op)
					}
				}
				c, err := itemCheck(ctx, res, s, "dynamodb:"+op, item, member, "")
				if err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
		return out, nil
	case "TransactWriteItems", "TransactGetItems":
		items, _ := b["TransactItems"].([]any)
		if len(items) == 0 {
			return nil, fmt.Errorf("%s without TransactItems", op)
		}
		var out []check
		for i, it := range items {
			m, _ := it.(map[string]any)
			if len(m) != 1 {
				return nil, fmt.Errorf("%s: item %d is not one action", op, i)
			}
			for kind, v := range m {
				action, ok := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
					"ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}[kind]
				if !ok || (op == "TransactGetItems") != (kind == "Get") {
					return nil, fmt.Errorf("%s: item %d: %s", op, i, kind)
				}
				item, _ := v.(map[string]any)
				c, err := itemCheck(ctx, res, s, "dynamodb:"+action, item, keyActions[action], op)
				if err != nil {
					return nil, fmt.Errorf("%s: item %d: %w", op, i, err)
				}
				out = append(out, c)
			}
		}
		return out, nil
	case "DescribeStream", "GetShardIterator":
		arn, _ := b["StreamArn"].(string)
		if !strings.HasPrefix(arn, "arn:") {
			return nil, fmt.Errorf("%s without a StreamArn", op)
		}
		return []check{{action: "dynamodb:" + op, resource: arn}}, nil
	case "GetRecords":
		// A shard iterator starts with its stream's ARN, as DynamoDB's do.
		it, _ := b["ShardIterator"].(string)
		arn, _, ok := strings.Cut(it, "|")
		if !ok || !strings.HasPrefix(arn, "arn:") {
			return nil, fmt.Errorf("GetRecords: a shard iterator that names no stream")
		}
		return []check{{action: "dynamodb:GetRecords", resource: arn}}, nil
	case "ListStreams", "ListTables":
		return []check{{action: "dynamodb:" + op, resource: "*"}}, nil
	default:
		for _, a := range tableActions {
			if op == a {
				_, arn, err := tableOf(res, b["TableName"])
				return []check{{action: "dynamodb:" + op, resource: arn}}, err
			}
		}
	}
	return nil, fmt.Errorf("operation %s", req.operation)
}

// itemCheck is the check of an action on one item: item holds TableName
// and, in member, the item's key or the whole item. enclosing is the
// transaction that carries it, if any (dynamodb:EnclosingOperation).
func itemCheck(ctx context.Context, res *Resources, s schemas, action string, item map[string]any, member, enclosing string) (check, error) {
	table, arn, err := tableOf(res, item["TableName"])
	if err != nil {
		return check{}, err
	}
	c := check{action: action, resource: arn, keys: map[string][]string{}}
	if enclosing != "" {
		c.keys[keyEnclosingOperation] = []string{enclosing}
	}
	pk, err := s.partitionKey(ctx, table, "")
	if err != nil {
		return check{}, err
	}
	attrs, _ := item[member].(map[string]any)
	switch v, err := keyString(attrs[pk]); {
	case pk == "":
		c.unknown = map[string]string{keyLeadingKeys: "an item of a table DynamoDB does not have"}
	case err != nil:
		// DynamoDB refuses the request itself (ValidationException) if IAM
		// lets it through; a binary key is not compared here.
		c.unknown = map[string]string{keyLeadingKeys: fmt.Sprintf("partition key %s %v", pk, err)}
	default:
		c.keys[keyLeadingKeys] = []string{v}
	}
	return c, nil
}

// tableOf returns the table a TableName member names (a name, or a table
// ARN) and its ARN.
func tableOf(res *Resources, v any) (name, arn string, err error) {
	s, _ := v.(string)
	if s == "" {
		return "", "", fmt.Errorf("no TableName")
	}
	if strings.HasPrefix(s, "arn:") {
		_, name, ok := strings.Cut(s, ":table/")
		if !ok || strings.Contains(name, "/") {
			return "", "", fmt.Errorf("TableName %q: not a table ARN", s)
		}
		return name, s, nil
	}
	for _, t := range res.Tables {
		if t.Name == s && t.ARN != "" {
			return s, t.ARN, nil
		}
	}
	return s, TableARN(or(res.Partition, LocalPartition), or(res.Region, LocalRegion), or(res.AccountID, LocalAccountID), s), nil
}

// keyString is the value of a partition key attribute as IAM compares it:
// a string, or a number as written.
func keyString(av any) (string, error) {
	m, _ := av.(map[string]any)
	if s, ok := m["S"].(string); ok {
		return s, nil
	}
	if n, ok := m["N"].(string); ok {
		return n, nil
	}
	return "", fmt.Errorf("%v: missing, or not a string or a number", av)
}

var (
	// An equality of an attribute (a name or a #placeholder) and a
	// :value, either way round.
	nameEqualsValue = regexp.MustCompile(`(?:^|[\s(])(#?[A-Za-z0-9_.#-]+)\s*=\s*(:[A-Za-z0-9_]+)`)
	valueEqualsName = regexp.MustCompile(`(:[A-Za-z0-9_]+)\s*=\s*(#?[A-Za-z0-9_.#-]+)(?:$|[\s)])`)
)

// queryPartitionValue returns the partition key value a Query's key
// condition (KeyConditionExpression, or the legacy KeyConditions) asks for.
func queryPartitionValue(b map[string]any, pk string) (string, bool) {
	if legacy, ok := b["KeyConditions"].(map[string]any); ok {
		cond, _ := legacy[pk].(map[string]any)
		list, _ := cond["AttributeValueList"].([]any)
		if cond["ComparisonOperator"] != "EQ" || len(list) != 1 {
			return "", false
		}
		v, err := keyString(list[0])
		return v, err == nil
	}
	expr, _ := b["KeyConditionExpression"].(string)
	names, _ := b["ExpressionAttributeNames"].(map[string]any)
	values, _ := b["ExpressionAttributeValues"].(map[string]any)
	name := func(n string) string {
		if strings.HasPrefix(n, "#") {
			s, _ := names[n].(string)
			return s
		}
		return n
	}
	found := ""
	for _, m := range nameEqualsValue.FindAllStringSubmatch(expr, -1) {
		if name(m[1]) == pk {
			found = m[2]
		}
	}
	for _, m := range valueEqualsName.FindAllStringSubmatch(expr, -1) {
		if name(m[2]) == pk {
			found = m[1]
		}
	}
	if found == "" {
		return "", false
	}
	v, err := keyString(values[found])
	return v, err == nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
