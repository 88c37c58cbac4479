package server_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hitcounter/hitcounter/tools/apitest"
	"github.com/hitcounter/hitcounter/tools/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.RunTests(m)) }

// TestContractOnDynamoDB runs the whole HTTP contract against the standalone
// server configured as a user would (STORE=dynamodb and the SDK's endpoint
// variable) on the real DynamoDB Local; the server creates its table.
func TestContractOnDynamoDB(t *testing.T) {
	ddb := dynamolocal.ForTest(t)
	url, _, _ := start(t, map[string]string{
		"STORE":                     "dynamodb",
		"TABLE_NAME":                fmt.Sprintf("contract-%d", time.Now().UnixNano()),
		"AWS_ENDPOINT_URL_DYNAMODB": ddb.Endpoint(),
		"API_KEYS":                  "contract-key",
	})
	apitest.Run(t, url, apitest.Options{APIKey: "contract-key"})
}
