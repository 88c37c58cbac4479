package localapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/uniques"
	"github.com/hitcounter/hitcounter/tools/apitest"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
	"github.com/hitcounter/hitcounter/tools/localapi"
)

// TestStackUniqueVisitors is the standalone server's TestUniqueVisitors
// (tools/apitest's RunVisitors) through the local API: 20,000 visitors,
// each from its own loopback address (the gateway's sourceIp is the TCP
// peer's) with its own User-Agent, to the real increment and hit
// functions, their visitor hashes carried by the stream to the real
// aggregate function's sketches: the day's uniques within 2%, hits exact;
// one visitor 50 times counts once; a crawler adds neither hits nor
// uniques and shows in bots. Then no address and no User-Agent a visitor
// used is in the functions' log (at DEBUG, a line per request), the
// stack's or the tables.
//
// The salt is injected as a deployment's first function would have made
// it: the day's salt item written before the first request, so the
// visitors' hashes, and the estimate, are the same on every run. The next
// day (RunVisitors' NextDay) is what a new day is to the functions: the
// day's salt item is another salt, and the functions, which keep the
// day's salt in memory, start afresh (Stack.Recycle) and read it.
func TestStackUniqueVisitors(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	table := "localapi-" + randomHex(t)
	out := &functionOutput{}
	stackLog := &functionOutput{}
	s := startStack(t, localapi.Options{
		DynamoDBEndpoint: ddb.Endpoint(),
		TableName:        table,
		PoolSize:         4,
		FunctionLog:      out,
		Logger:           slog.New(slog.NewJSONHandler(stackLog, nil)),
		TemplateParams:   map[string]any{"LogLevel": "DEBUG"},
	})
	injectSalts(t, ddb.Endpoint(), table)

	visitors := apitest.RunVisitors(t, s.URL(), apitest.VisitorsOptions{
		Options:  apitest.Options{Gateway: true},
		Visitors: 20_000,
		Clients:  16,
		NextDay:  func() { nextDay(t, s, ddb.Endpoint(), table) },
	})
	data := ddb.TablesText(t, table, table+"-stats")
	if err := s.Close(); err != nil { // the functions' last lines
		t.Fatal(err)
	}
	apitest.SearchForVisitors(t, "the functions' log", out.text(), visitors)
	apitest.SearchForVisitors(t, "the stack's log", stackLog.text(), visitors)
	apitest.SearchForVisitors(t, "the tables", data, visitors)
}

// injectSalts writes the salts of today and tomorrow (UTC) into the
// counter table as internal/dynamostore keeps them (s#<date>: salt,
// expires_at), the same on every run, one unlike the other, before any function makes them.
func injectSalts(t *testing.T, endpoint, table string) {
	t.Helper()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for i, day := range []time.Time{today, today.Add(24 * time.Hour)} {
		putSalt(t, endpoint, table, day, i, true)
	}
}

// nextDay is RunVisitors' next day on the stack s: today's salt item
// becomes the salt of the next day (testSalt(1)), and every function
// starts afresh, so that the next invocations read it, as on a new day.
func nextDay(t *testing.T, s *localapi.Stack, endpoint, table string) {
	t.Helper()
	putSalt(t, endpoint, table, time.Now().UTC().Truncate(24*time.Hour), 1, false)
	s.Recycle()
}

// putSalt writes testSalt(n) as the salt of day into the counter table;
// only if the day has none yet, if first.
func putSalt(t *testing.T, endpoint, table string, day time.Time, n int, first bool) {
	t.Helper()
	client := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: endpoint})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	salt := testSalt(n)
	in := &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"pk":         &types.AttributeValueMemberS{Value: "s#" + day.Format(time.DateOnly)},
			"salt":       &types.AttributeValueMemberB{Value: salt[:]},
			"expires_at": &types.AttributeValueMemberN{Value: fmt.Sprint(uniques.SaltExpires(day).Unix())},
		},
	}
	if first {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	}
	if _, err := client.PutItem(ctx, in); err != nil {
		t.Fatalf("the salt of %s: %v", day.Format(time.DateOnly), err)
	}
}

// testSalt returns the test's salt number n: the same on every run.
func testSalt(n int) uniques.Salt {
	var salt uniques.Salt
	copy(salt[:], fmt.Sprintf("test salt of day %d", n))
	return salt
}

// text returns every line written so far.
func (o *functionOutput) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.lines, "") + string(o.pending)
}
