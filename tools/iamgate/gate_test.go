package iamgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/iamgate"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// fakeDynamoDB stands for DynamoDB Local where only the gate's answers
// matter: DescribeTable says the table is keyed by pk, anything else
// answers {}. It counts the requests that reach it, by operation.
type fakeDynamoDB struct {
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeDynamoDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	f.mu.Lock()
	f.calls[op]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if op == "DescribeTable" {
		fmt.Fprint(w, `{"Table":{"TableName":"hitcounter","TableStatus":"ACTIVE","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}]}}`)
		return
	}
	fmt.Fprint(w, `{}`)
}

func (f *fakeDynamoDB) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// The function of these tests may read and update counters, and put
// idempotency records only.
const testPolicy = `[
	{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"], "Resource": {"Fn::GetAtt": ["CountersTable", "Arn"]}},
	{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["CountersTable", "Arn"]},
	 "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["i#*"]}}}]`

type gateTest struct {
	gate      *iamgate.Gate
	upstream  *fakeDynamoDB
	client    *dynamodb.Client
	decisions *[]iamgate.Decision
}

// startGate starts a gate for one principal, HitFunction, with policy in
// front of a fakeDynamoDB, and a client signed as HitFunction.
func startGate(t *testing.T, policy string) gateTest {
	t.Helper()
	up := &fakeDynamoDB{calls: map[string]int{}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	var raw []map[string]any
	if err := json.Unmarshal([]byte(policy), &raw); err != nil {
		t.Fatal(err)
	}
	res := iamgate.Resources{Tables: map[string]iamgate.Table{"CountersTable": {Name: "hitcounter"}}}
	p := iamgate.Principal{Name: "HitFunction", Role: "HitFunctionRole"}
	for _, st := range raw {
		p.Statements = append(p.Statements, iamgate.ParseStatement(st, res))
	}
	var mu sync.Mutex
	var decisions []iamgate.Decision
	g, err := iamgate.New(srv.URL, []iamgate.Principal{p}, iamgate.Options{Resources: res, OnDecision: func(d iamgate.Decision) {
		mu.Lock()
		decisions = append(decisions, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	creds, err := g.Credentials("HitFunction")
	if err != nil {
		t.Fatal(err)
	}
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: g.URL(), Credentials: creds})
	return gateTest{gate: g, upstream: up, client: client, decisions: &decisions}
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

// wantAccessDenied checks that err is DynamoDB's AccessDeniedException as
// the SDK reports it (HTTP 400, error code AccessDeniedException), with
// DynamoDB's message for action on resource.
func wantAccessDenied(t *testing.T, err error, action, resource string) {
	t.Helper()
	var api smithy.APIError
	var resp *awshttp.ResponseError
	if !errors.As(err, &api) || !errors.As(err, &resp) {
		t.Fatalf("error %v, want an API error with an HTTP response", err)
	}
	want := "User: arn:aws:sts::000000000000:assumed-role/HitFunctionRole/HitFunction is not authorized to perform: " +
		action + " on resource: " + resource + " because no identity-based policy allows the " + action + " action"
	if api.ErrorCode() != "AccessDeniedException" || resp.HTTPStatusCode() != http.StatusBadRequest || api.ErrorMessage() != want {
		t.Errorf("got %d %s %q, want 400 AccessDeniedException %q", resp.HTTPStatusCode(), api.ErrorCode(), api.ErrorMessage(), want)
	}
}

const tableARN = "arn:aws:dynamodb:ddblocal:000000000000:table/hitcounter"

// TestGate: what a policy allows reaches DynamoDB; anything else is
// answered as DynamoDB answers a request IAM refuses, which the SDK reports
// as AccessDeniedException without retrying, and the store as an internal
// error (500).
func TestGate(t *testing.T) {
	ctx := context.Background()
	t.Run("allowed", func(t *testing.T) {
		g := startGate(t, testPolicy)
		if _, err := g.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("hitcounter"), Key: key("c#home")}); err != nil {
			t.Fatal(err)
		}
		if n := g.upstream.count("GetItem"); n != 1 {
			t.Errorf("GetItem reached DynamoDB %d times, want 1", n)
		}
	})
	t.Run("an action the policy lacks", func(t *testing.T) {
		g := startGate(t, testPolicy)
		_, err := g.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("hitcounter"), Key: key("c#home")})
		wantAccessDenied(t, err, "dynamodb:DeleteItem", tableARN)
		if n := g.upstream.count("DeleteItem"); n != 0 {
			t.Errorf("DeleteItem reached DynamoDB %d times, want 0", n)
		}
		if n := len(*g.decisions); n != 1 {
			t.Errorf("%d decisions, want 1: the SDK does not retry an AccessDeniedException", n)
		}
	})
	t.Run("a key its condition excludes", func(t *testing.T) {
		g := startGate(t, testPolicy)
		_, err := g.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("hitcounter"), Item: key("c#home")})
		wantAccessDenied(t, err, "dynamodb:PutItem", tableARN)
	})
	t.Run("one item of a transaction", func(t *testing.T) {
		g := startGate(t, testPolicy)
		_, err := g.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("hitcounter"), Key: key("c#home"), UpdateExpression: aws.String("SET a = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberN{Value: "1"}}}},
			{Put: &types.Put{TableName: aws.String("hitcounter"), Item: key("i#record")}},
			{Put: &types.Put{TableName: aws.String("hitcounter"), Item: key("c#other")}},
		}})
		wantAccessDenied(t, err, "dynamodb:PutItem", tableARN)
		if n := g.upstream.count("TransactWriteItems"); n != 0 {
			t.Errorf("the transaction reached DynamoDB %d times, want 0", n)
		}
	})
	t.Run("a transaction of allowed items", func(t *testing.T) {
		g := startGate(t, testPolicy)
		_, err := g.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("hitcounter"), Item: key("i#record")}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("what the store makes of it", func(t *testing.T) {
		g := startGate(t, `[{"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": "*"}]`)
		store := dynamostore.New(g.client, "hitcounter")
		if _, err := store.Get(ctx, "home"); counter.ErrorCode(err) != counter.Internal {
			t.Errorf("Get: %v (%s), want an internal error: the routes answer 500", err, counter.ErrorCode(err))
		}
		if err := store.Ping(ctx); counter.ErrorCode(err) != counter.Unavailable {
			t.Errorf("Ping: %v (%s), want unavailable: GET /health answers 503", err, counter.ErrorCode(err))
		}
	})
	t.Run("an operation it does not understand", func(t *testing.T) {
		g := startGate(t, `[{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]`)
		_, err := g.client.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{Statement: aws.String("SELECT * FROM hitcounter")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !strings.Contains(api.ErrorMessage(), "does not understand the request: operation ExecuteStatement") {
			t.Errorf("ExecuteStatement: %v, want AccessDeniedException saying the gate does not understand it", err)
		}
	})
	t.Run("an unknown access key", func(t *testing.T) {
		g := startGate(t, testPolicy)
		client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: g.gate.URL(), Credentials: credentials.NewStaticCredentialsProvider("AKIDOTHER", "s", "")})
		_, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("hitcounter"), Key: key("c#home")})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "UnrecognizedClientException" {
			t.Errorf("GetItem with another key: %v, want UnrecognizedClientException", err)
		}
	})
}

// TestAccessDeniedWire: the answer, byte for byte as DynamoDB shapes it:
// HTTP 400, JSON with __type com.amazon.coral.service#AccessDeniedException
// and Message, a request ID and the body's CRC32.
func TestAccessDeniedWire(t *testing.T) {
	g := startGate(t, testPolicy)
	req, _ := http.NewRequest(http.MethodPost, g.gate.URL(), strings.NewReader(`{"TableName":"hitcounter","Key":{"pk":{"S":"c#a"}}}`))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.DeleteItem")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+iamgate.AccessKeyID("HitFunction")+"/20261201/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e map[string]string
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || e["__type"] != iamgate.AccessDeniedType || !strings.HasPrefix(e["Message"], "User: arn:aws:sts::") || len(e) != 2 {
		t.Errorf("got %s %s", resp.Status, body)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/x-amz-json-1.0",
		"X-Amz-Crc32":  strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10),
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if resp.Header.Get("X-Amzn-Requestid") == "" || resp.Header.Get("Date") == "" {
		t.Errorf("no request ID or Date: %v", resp.Header)
	}
}
