package dynamolocal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func createTable(t *testing.T, c *dynamodb.Client, name string) {
	t.Helper()
	_, err := c.CreateTable(testContext(t), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable(%q): %v", name, err)
	}
}

func tableNames(t *testing.T, c *dynamodb.Client) []string {
	t.Helper()
	out, err := c.ListTables(testContext(t), &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	return out.TableNames
}

func TestForTest(t *testing.T) {
	srv := dynamolocal.ForTest(t)
	c := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: srv.Endpoint()})
	createTable(t, c, "for-test")
	if got := tableNames(t, c); !slices.Contains(got, "for-test") {
		t.Fatalf("tables = %v, want for-test among them", got)
	}
	if again := dynamolocal.ForTest(t); again != srv {
		t.Errorf("second ForTest returned another server")
	}
}

// TestKillRestartFileBacked kills a file-backed server with SIGKILL, checks
// that it is down, and starts it again on the same port with its data.
func TestKillRestartFileBacked(t *testing.T) {
	if os.Getenv(dynamolocal.EndpointEnv) != "" {
		t.Log("starting a private server despite " + dynamolocal.EndpointEnv)
	}
	srv := dynamolocal.StartForTest(t, dynamolocal.Options{DBPath: t.TempDir()})
	c := dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: srv.Endpoint()}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	createTable(t, c, "survivor")

	if err := srv.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Fatalf("ListTables after Kill: no error, want a connection error")
	}
	port := srv.Port()
	if err := srv.Start(testContext(t)); err != nil {
		t.Fatalf("Start after Kill: %v", err)
	}
	if srv.Port() != port {
		t.Errorf("port after restart = %d, want %d", srv.Port(), port)
	}
	if got := tableNames(t, c); !slices.Contains(got, "survivor") {
		t.Fatalf("tables after Kill+Start = %v, want survivor", got)
	}
	if err := srv.Restart(testContext(t)); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := tableNames(t, c); !slices.Contains(got, "survivor") {
		t.Fatalf("tables after Restart = %v, want survivor", got)
	}
}

func TestStartWithoutJava(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := dynamolocal.Start(testContext(t), dynamolocal.Options{})
	if !errors.Is(err, dynamolocal.ErrNoJava) {
		t.Fatalf("Start without java: err = %v, want ErrNoJava", err)
	}
	const want = "apt-get install -y openjdk-17-jre-headless"
	if got := err.Error(); !strings.Contains(got, want) {
		t.Errorf("error %q does not say %q", got, want)
	}
}

// TestInstallConcurrently installs into a fresh directory from two
// goroutines at once: both must succeed with a complete installation.
func TestInstallConcurrently(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dynamodb-local")
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := dynamolocal.Install(testContext(t), dir)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Install: %v", err)
		}
	}
	for _, name := range []string{"DynamoDBLocal.jar", "DynamoDBLocal_lib"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("after Install: %v", err)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".install-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left behind: %v", leftovers)
	}
}
