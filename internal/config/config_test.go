package config_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/hitcounter/hitcounter/internal/config"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// vars returns a map of the key-value pairs kv over base.
func vars(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var (
	awsCreds = map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
	onAWS    = vars(awsCreds, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_REGION", "eu-west-1")
	local    = vars(nil, "STORE", "dynamodb", "TABLE_NAME", "hits", "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
)

// TestFromEnv reads every variable, valid and invalid; an invalid value's
// error must name its variable.
func TestFromEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		check   func(t *testing.T, c config.Config)
		wantErr string
	}{
		"defaults": {check: func(t *testing.T, c config.Config) {
			want := config.Config{Store: "memory", DataPath: "hitcounter.db", CORSOrigins: []string{"*"}, Addr: ":3000", ShutdownTimeout: 10 * time.Second, PublicMaxIncrement: 1,
				LogLevel: slog.LevelDebug, LogFormat: "JSON", MetricsNamespace: "hitcounter",
				Uniques: true, BotFilter: true}
			if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
				t.Errorf("defaults = %+v, want %+v", c, want)
			}
		}},

		"STORE memory":   {env: vars(nil, "STORE", "memory"), check: wantField(func(c config.Config) any { return c.Store }, "memory")},
		"STORE dynamodb": {env: onAWS, check: wantField(func(c config.Config) any { return c.Store }, "dynamodb")},
		"STORE file":     {env: vars(nil, "STORE", "file"), check: wantField(func(c config.Config) any { return c.Store }, "file")},
		"STORE unknown":  {env: vars(nil, "STORE", "redis"), wantErr: `STORE="redis"`},

		"DATA_PATH":                     {env: vars(nil, "STORE", "file", "DATA_PATH", "/data/hits.db"), check: wantField(func(c config.Config) any { return c.DataPath }, "/data/hits.db")},
		"DATA_PATH default":             {env: vars(nil, "STORE", "file"), check: wantField(func(c config.Config) any { return c.DataPath }, "hitcounter.db")},
		"DATA_PATH blanks":              {env: vars(nil, "STORE", "file", "DATA_PATH", " /data/hits.db"), wantErr: `DATA_PATH=" /data/hits.db"`},
		"DATA_PATH checked on memory":   {env: vars(nil, "DATA_PATH", "  "), wantErr: "DATA_PATH"},
		"REQUEST_TIMEOUT default file":  {env: vars(nil, "STORE", "file"), check: wantField(func(c config.Config) any { return c.RequestTimeout }, 3*time.Second)},
		"TRUSTED_PROXIES unset is none": {check: wantField(func(c config.Config) any { return len(c.TrustedProxies) }, 0)},
		"TRUSTED_PROXIES": {env: vars(nil, "TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1,::ffff:192.168.1.1,fd00::/8,172.16.1.1/12"),
			check: wantField(func(c config.Config) any { return fmt.Sprint(c.TrustedProxies) }, "[127.0.0.1/32 10.0.0.0/8 ::1/128 192.168.1.1/32 fd00::/8 172.16.0.0/12]")},
		"TRUSTED_PROXIES comma only": {env: vars(nil, "TRUSTED_PROXIES", ","), wantErr: `TRUSTED_PROXIES=","`},
		"TRUSTED_PROXIES host name":  {env: vars(nil, "TRUSTED_PROXIES", "10.0.0.1,proxy.local"), wantErr: `"proxy.local" is not one`},
		"TRUSTED_PROXIES bad prefix": {env: vars(nil, "TRUSTED_PROXIES", "10.0.0.0/33"), wantErr: "TRUSTED_PROXIES"},
		"STORE wrong case":           {env: vars(nil, "STORE", "DynamoDB"), wantErr: "STORE"},

		"AWS_LAMBDA_LOG_LEVEL":                {env: vars(nil, "AWS_LAMBDA_LOG_LEVEL", "WARN"), check: wantField(func(c config.Config) any { return c.LogLevel }, slog.LevelWarn)},
		"AWS_LAMBDA_LOG_LEVEL lower case":     {env: vars(nil, "AWS_LAMBDA_LOG_LEVEL", "error"), check: wantField(func(c config.Config) any { return c.LogLevel }, slog.LevelError)},
		"AWS_LAMBDA_LOG_LEVEL TRACE":          {env: vars(nil, "AWS_LAMBDA_LOG_LEVEL", "TRACE"), check: wantField(func(c config.Config) any { return c.LogLevel }, config.LevelTrace)},
		"AWS_LAMBDA_LOG_LEVEL over LOG_LEVEL": {env: vars(nil, "AWS_LAMBDA_LOG_LEVEL", "ERROR", "LOG_LEVEL", "DEBUG"), check: wantField(func(c config.Config) any { return c.LogLevel }, slog.LevelError)},
		"LOG_LEVEL":                           {env: vars(nil, "LOG_LEVEL", "INFO"), check: wantField(func(c config.Config) any { return c.LogLevel }, slog.LevelInfo)},
		"LOG_LEVEL unknown":                   {env: vars(nil, "LOG_LEVEL", "VERBOSE"), wantErr: `LOG_LEVEL="VERBOSE"`},
		"METRICS_NAMESPACE":                   {env: vars(nil, "METRICS_NAMESPACE", "hits-prod"), check: wantField(func(c config.Config) any { return c.MetricsNamespace }, "hits-prod")},
		"AWS_LAMBDA_LOG_FORMAT Text":          {env: vars(nil, "AWS_LAMBDA_LOG_FORMAT", "Text"), check: wantField(func(c config.Config) any { return c.LogFormat }, "Text")},
		"AWS_LAMBDA_LOG_FORMAT unknown":       {env: vars(nil, "AWS_LAMBDA_LOG_FORMAT", "XML"), wantErr: "AWS_LAMBDA_LOG_FORMAT"},

		"TABLE_NAME":                               {env: onAWS, check: wantField(func(c config.Config) any { return c.TableName }, "hits")},
		"TABLE_NAME missing":                       {env: vars(onAWS, "TABLE_NAME", ""), wantErr: "needs TABLE_NAME"},
		"TABLE_NAME too short":                     {env: vars(onAWS, "TABLE_NAME", "ab"), wantErr: `TABLE_NAME="ab"`},
		"TABLE_NAME bad char":                      {env: vars(onAWS, "TABLE_NAME", "hits/prod"), wantErr: "TABLE_NAME"},
		"TABLE_NAME ignored by memory but checked": {env: vars(nil, "TABLE_NAME", "a b"), wantErr: "TABLE_NAME"},

		"AWS_REGION":                    {env: onAWS, check: wantField(func(c config.Config) any { return c.DynamoDB.Region }, "eu-west-1")},
		"AWS_DEFAULT_REGION":            {env: vars(onAWS, "AWS_REGION", "", "AWS_DEFAULT_REGION", "eu-west-2"), check: wantField(func(c config.Config) any { return c.DynamoDB.Region }, "eu-west-2")},
		"AWS_REGION first":              {env: vars(onAWS, "AWS_DEFAULT_REGION", "eu-west-2"), check: wantField(func(c config.Config) any { return c.DynamoDB.Region }, "eu-west-1")},
		"AWS_REGION missing":            {env: vars(onAWS, "AWS_REGION", ""), wantErr: "needs AWS_REGION"},
		"AWS_REGION not needed locally": {env: local, check: wantField(func(c config.Config) any { return c.DynamoDB.Region }, "")},

		"AWS_ENDPOINT_URL_DYNAMODB":            {env: local, check: wantField(func(c config.Config) any { return c.DynamoDB.Endpoint }, "http://127.0.0.1:8000")},
		"AWS_ENDPOINT_URL":                     {env: vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "", "AWS_ENDPOINT_URL", "http://localhost:8001"), check: wantField(func(c config.Config) any { return c.DynamoDB.Endpoint }, "http://localhost:8001")},
		"AWS_ENDPOINT_URL_DYNAMODB first":      {env: vars(local, "AWS_ENDPOINT_URL", "http://localhost:8001"), check: wantField(func(c config.Config) any { return c.DynamoDB.Endpoint }, "http://127.0.0.1:8000")},
		"AWS_ENDPOINT_URL_DYNAMODB no scheme":  {env: vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "localhost:8000"), wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"AWS_ENDPOINT_URL_DYNAMODB no host":    {env: vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "http://"), wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"AWS_ENDPOINT_URL_DYNAMODB bad scheme": {env: vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "ftp://127.0.0.1"), wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"AWS_ENDPOINT_URL_DYNAMODB unparsable": {env: vars(local, "AWS_ENDPOINT_URL_DYNAMODB", "http://[::1"), wantErr: "AWS_ENDPOINT_URL_DYNAMODB"},
		"AWS_ENDPOINT_URL malformed":           {env: vars(nil, "AWS_ENDPOINT_URL", "::"), wantErr: "AWS_ENDPOINT_URL="},

		"AWS credentials half set, id":     {env: vars(onAWS, "AWS_SECRET_ACCESS_KEY", ""), wantErr: "AWS_SECRET_ACCESS_KEY is not"},
		"AWS credentials half set, secret": {env: vars(onAWS, "AWS_ACCESS_KEY_ID", ""), wantErr: "AWS_ACCESS_KEY_ID is not"},
		"AWS credentials none, no chain":   {env: vars(onAWS, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", ""), wantErr: "needs AWS credentials"},
		"AWS credentials none, remote endpoint": {
			env:     vars(onAWS, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "", "AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.example.com"),
			wantErr: "needs AWS credentials",
		},

		"REQUEST_TIMEOUT default memory":   {check: wantField(func(c config.Config) any { return c.RequestTimeout }, time.Duration(0))},
		"REQUEST_TIMEOUT default dynamodb": {env: onAWS, check: wantField(func(c config.Config) any { return c.RequestTimeout }, 3*time.Second)},
		"REQUEST_TIMEOUT":                  {env: vars(nil, "REQUEST_TIMEOUT", "250ms"), check: wantField(func(c config.Config) any { return c.RequestTimeout }, 250*time.Millisecond)},
		"REQUEST_TIMEOUT 0 is none":        {env: vars(onAWS, "REQUEST_TIMEOUT", "0"), check: wantField(func(c config.Config) any { return c.RequestTimeout }, time.Duration(0))},
		"REQUEST_TIMEOUT abc":              {env: vars(nil, "REQUEST_TIMEOUT", "abc"), wantErr: `REQUEST_TIMEOUT="abc"`},
		"REQUEST_TIMEOUT no unit":          {env: vars(nil, "REQUEST_TIMEOUT", "3"), wantErr: "REQUEST_TIMEOUT"},
		"REQUEST_TIMEOUT negative":         {env: vars(nil, "REQUEST_TIMEOUT", "-1s"), wantErr: "REQUEST_TIMEOUT"},

		"CORS_ALLOWED_ORIGINS": {env: vars(nil, "CORS_ALLOWED_ORIGINS", " https://x.example, *,http://localhost:8080 "),
			check: wantField(func(c config.Config) any { return strings.Join(c.CORSOrigins, "|") }, "https://x.example|*|http://localhost:8080")},
		"HIT_CREATES_COUNTERS true":           {env: vars(nil, "HIT_CREATES_COUNTERS", "true"), check: wantField(func(c config.Config) any { return c.HitCreates }, true)},
		"HIT_CREATES_COUNTERS false":          {env: vars(nil, "HIT_CREATES_COUNTERS", "false"), check: wantField(func(c config.Config) any { return c.HitCreates }, false)},
		"HIT_CREATES_COUNTERS unset":          {env: nil, check: wantField(func(c config.Config) any { return c.HitCreates }, false)},
		"HIT_CREATES_COUNTERS other":          {env: vars(nil, "HIT_CREATES_COUNTERS", "yes"), wantErr: `HIT_CREATES_COUNTERS="yes"`},
		"UNIQUES false":                       {env: vars(nil, "UNIQUES", "false"), check: wantField(func(c config.Config) any { return c.Uniques }, false)},
		"UNIQUES unset":                       {env: nil, check: wantField(func(c config.Config) any { return c.Uniques }, true)},
		"UNIQUES other":                       {env: vars(nil, "UNIQUES", "off"), wantErr: `UNIQUES="off"`},
		"BOT_FILTER false":                    {env: vars(nil, "BOT_FILTER", "false"), check: wantField(func(c config.Config) any { return c.BotFilter }, false)},
		"BOT_FILTER unset":                    {env: nil, check: wantField(func(c config.Config) any { return c.BotFilter }, true)},
		"BOT_FILTER other":                    {env: vars(nil, "BOT_FILTER", "1"), wantErr: `BOT_FILTER="1"`},
		"CORS_ALLOWED_ORIGINS comma only":     {env: vars(nil, "CORS_ALLOWED_ORIGINS", ","), wantErr: `CORS_ALLOWED_ORIGINS=","`},
		"CORS_ALLOWED_ORIGINS blanks only":    {env: vars(nil, "CORS_ALLOWED_ORIGINS", "  "), wantErr: "CORS_ALLOWED_ORIGINS"},
		"CORS_ALLOWED_ORIGINS with path":      {env: vars(nil, "CORS_ALLOWED_ORIGINS", "https://x.example/"), wantErr: "CORS_ALLOWED_ORIGINS"},
		"CORS_ALLOWED_ORIGINS without scheme": {env: vars(nil, "CORS_ALLOWED_ORIGINS", "x.example"), wantErr: "CORS_ALLOWED_ORIGINS"},
		// Unset is any origin on every host (server, functions, make local),
		// as the template's AllowedOrigins default; none turns CORS off.
		"CORS_ALLOWED_ORIGINS unset is any origin": {env: nil, check: wantField(func(c config.Config) any { return strings.Join(c.CORSOrigins, "|") }, "*")},
		"CORS_ALLOWED_ORIGINS unset on dynamodb":   {env: onAWS, check: wantField(func(c config.Config) any { return strings.Join(c.CORSOrigins, "|") }, "*")},
		"CORS_ALLOWED_ORIGINS none is off":         {env: vars(nil, "CORS_ALLOWED_ORIGINS", "none"), check: wantField(func(c config.Config) any { return c.CORSOrigins == nil }, true)},
		"CORS_ALLOWED_ORIGINS none with blanks":    {env: vars(nil, "CORS_ALLOWED_ORIGINS", " none "), check: wantField(func(c config.Config) any { return c.CORSOrigins == nil }, true)},
		"CORS_ALLOWED_ORIGINS none in a list":      {env: vars(nil, "CORS_ALLOWED_ORIGINS", "none,https://x.example"), wantErr: `"none" is not one`},
		"CORS_ALLOWED_ORIGINS None":                {env: vars(nil, "CORS_ALLOWED_ORIGINS", "None"), wantErr: "CORS_ALLOWED_ORIGINS"},

		"API_KEYS":             {env: vars(nil, "API_KEYS", " a, b ,,"), check: wantField(func(c config.Config) any { return strings.Join(c.APIKeys, "|") }, "a|b")},
		"API_KEYS comma only":  {env: vars(nil, "API_KEYS", ","), wantErr: `API_KEYS=","`},
		"API_KEYS blanks only": {env: vars(nil, "API_KEYS", " , "), wantErr: "API_KEYS"},

		// sha256("k1") and sha256("k2"), as an operator makes them.
		"API_KEY_DIGESTS": {env: vars(nil, "API_KEY_DIGESTS", " "+digestK1+", "+strings.ToUpper(digestK2)+" ,"), check: wantField(func(c config.Config) any {
			return fmt.Sprintf("%x|%x|%v", c.APIKeyDigests[0], c.APIKeyDigests[1], c.KeysOn())
		}, digestK1+"|"+digestK2+"|true")},
		"API_KEY_DIGESTS short":      {env: vars(nil, "API_KEY_DIGESTS", digestK1[:62]), wantErr: "API_KEY_DIGESTS (value not shown)"},
		"API_KEY_DIGESTS not hex":    {env: vars(nil, "API_KEY_DIGESTS", "x"+digestK1[1:]), wantErr: "API_KEY_DIGESTS"},
		"API_KEY_DIGESTS a key":      {env: vars(nil, "API_KEY_DIGESTS", "s3cret-key"), wantErr: "API_KEY_DIGESTS (value not shown)"},
		"API_KEY_DIGESTS one bad":    {env: vars(nil, "API_KEY_DIGESTS", digestK1+",nope"), wantErr: "API_KEY_DIGESTS"},
		"API_KEY_DIGESTS comma only": {env: vars(nil, "API_KEY_DIGESTS", ","), wantErr: "API_KEY_DIGESTS"},

		// The open increment only adds views when keys are on: 1 unless set.
		"PUBLIC_MAX_INCREMENT default":          {env: nil, check: wantField(func(c config.Config) any { return c.PublicMaxIncrement }, int64(1))},
		"PUBLIC_MAX_INCREMENT 5":                {env: vars(nil, "PUBLIC_MAX_INCREMENT", "5"), check: wantField(func(c config.Config) any { return c.PublicMaxIncrement }, int64(5))},
		"PUBLIC_MAX_INCREMENT largest":          {env: vars(nil, "PUBLIC_MAX_INCREMENT", "9007199254740991"), check: wantField(func(c config.Config) any { return c.PublicMaxIncrement }, int64(9007199254740991))},
		"PUBLIC_MAX_INCREMENT 0":                {env: vars(nil, "PUBLIC_MAX_INCREMENT", "0"), wantErr: `PUBLIC_MAX_INCREMENT="0"`},
		"PUBLIC_MAX_INCREMENT negative":         {env: vars(nil, "PUBLIC_MAX_INCREMENT", "-1"), wantErr: "PUBLIC_MAX_INCREMENT"},
		"PUBLIC_MAX_INCREMENT past the maximum": {env: vars(nil, "PUBLIC_MAX_INCREMENT", "9007199254740992"), wantErr: "PUBLIC_MAX_INCREMENT"},
		"PUBLIC_MAX_INCREMENT none":             {env: vars(nil, "PUBLIC_MAX_INCREMENT", "none"), wantErr: "PUBLIC_MAX_INCREMENT"},
		"API_KEYS_REQUIRED true":                {env: vars(onAWS, "API_KEYS_REQUIRED", "true"), check: wantField(func(c config.Config) any { return c.APIKeysRequired }, true)},
		"API_KEYS_REQUIRED other":               {env: vars(nil, "API_KEYS_REQUIRED", "yes"), wantErr: `API_KEYS_REQUIRED="yes"`},
		"keys off":                              {env: nil, check: wantField(func(c config.Config) any { return c.KeysOn() }, false)},
		"keys on: API_KEYS":                     {env: vars(nil, "API_KEYS", "a"), check: wantField(func(c config.Config) any { return c.KeysOn() }, true)},
		"keys on: API_KEYS_REQUIRED":            {env: vars(onAWS, "API_KEYS_REQUIRED", "true"), check: wantField(func(c config.Config) any { return c.KeysOn() }, true)},
		"keys off: API_KEYS_REQUIRED false":     {env: vars(onAWS, "API_KEYS_REQUIRED", "false"), check: wantField(func(c config.Config) any { return c.KeysOn() }, false)},

		"RATE_LIMIT": {env: vars(nil, "RATE_LIMIT", "10"), check: func(t *testing.T, c config.Config) {
			if c.RateLimit != 10 || c.RateBurst != 20 {
				t.Errorf("rate %v burst %d, want 10 and 20", c.RateLimit, c.RateBurst)
			}
		}},
		"RATE_LIMIT fraction, burst at least 1": {env: vars(nil, "RATE_LIMIT", "0.1"), check: wantField(func(c config.Config) any { return c.RateBurst }, 1)},
		"RATE_LIMIT 0 is off":                   {env: vars(nil, "RATE_LIMIT", "0"), check: wantField(func(c config.Config) any { return c.RateLimit }, 0.0)},
		"RATE_LIMIT NaN":                        {env: vars(nil, "RATE_LIMIT", "NaN"), wantErr: `RATE_LIMIT="NaN"`},
		"RATE_LIMIT Inf":                        {env: vars(nil, "RATE_LIMIT", "Inf"), wantErr: "RATE_LIMIT"},
		"RATE_LIMIT +Inf":                       {env: vars(nil, "RATE_LIMIT", "+Inf"), wantErr: "RATE_LIMIT"},
		"RATE_LIMIT -1":                         {env: vars(nil, "RATE_LIMIT", "-1"), wantErr: "RATE_LIMIT"},
		"RATE_LIMIT huge":                       {env: vars(nil, "RATE_LIMIT", "1e300"), wantErr: "RATE_LIMIT"},
		"RATE_LIMIT words":                      {env: vars(nil, "RATE_LIMIT", "ten"), wantErr: "RATE_LIMIT"},

		"RATE_LIMIT_BURST":                {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_BURST", "5"), check: wantField(func(c config.Config) any { return c.RateBurst }, 5)},
		"RATE_LIMIT_BURST 0":              {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_BURST", "0"), wantErr: `RATE_LIMIT_BURST="0"`},
		"RATE_LIMIT_BURST negative":       {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_BURST", "-3"), wantErr: "RATE_LIMIT_BURST"},
		"RATE_LIMIT_BURST fraction":       {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_BURST", "1.5"), wantErr: "RATE_LIMIT_BURST"},
		"RATE_LIMIT_BURST huge":           {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_BURST", "99999999999999999999"), wantErr: "RATE_LIMIT_BURST"},
		"RATE_LIMIT_BURST without a rate": {env: vars(nil, "RATE_LIMIT_BURST", "5"), wantErr: "RATE_LIMIT_BURST"},

		"RATE_LIMIT_IPV6_PREFIX default":       {env: vars(nil, "RATE_LIMIT", "1"), check: wantField(func(c config.Config) any { return c.RateIPv6Prefix }, 64)},
		"RATE_LIMIT_IPV6_PREFIX no limit":      {env: nil, check: wantField(func(c config.Config) any { return c.RateIPv6Prefix }, 0)},
		"RATE_LIMIT_IPV6_PREFIX 48":            {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_IPV6_PREFIX", "48"), check: wantField(func(c config.Config) any { return c.RateIPv6Prefix }, 48)},
		"RATE_LIMIT_IPV6_PREFIX 128":           {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_IPV6_PREFIX", "128"), check: wantField(func(c config.Config) any { return c.RateIPv6Prefix }, 128)},
		"RATE_LIMIT_IPV6_PREFIX 0":             {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_IPV6_PREFIX", "0"), wantErr: `RATE_LIMIT_IPV6_PREFIX="0"`},
		"RATE_LIMIT_IPV6_PREFIX 129":           {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_IPV6_PREFIX", "129"), wantErr: "RATE_LIMIT_IPV6_PREFIX"},
		"RATE_LIMIT_IPV6_PREFIX slash":         {env: vars(nil, "RATE_LIMIT", "1", "RATE_LIMIT_IPV6_PREFIX", "/64"), wantErr: "RATE_LIMIT_IPV6_PREFIX"},
		"RATE_LIMIT_IPV6_PREFIX without limit": {env: vars(nil, "RATE_LIMIT_IPV6_PREFIX", "56"), wantErr: "RATE_LIMIT_IPV6_PREFIX"},

		"PORT":          {env: vars(nil, "PORT", "8080", "HOST", "127.0.0.1"), check: wantField(func(c config.Config) any { return c.Addr }, "127.0.0.1:8080")},
		"PORT 0":        {env: vars(nil, "PORT", "0"), check: wantField(func(c config.Config) any { return c.Addr }, ":0")},
		"HOST IPv6":     {env: vars(nil, "HOST", "::1"), check: wantField(func(c config.Config) any { return c.Addr }, "[::1]:3000")},
		"PORT x":        {env: vars(nil, "PORT", "x"), wantErr: `PORT="x"`},
		"PORT too big":  {env: vars(nil, "PORT", "65536"), wantErr: "PORT"},
		"PORT negative": {env: vars(nil, "PORT", "-1"), wantErr: "PORT"},

		"SHUTDOWN_TIMEOUT":              {env: vars(nil, "SHUTDOWN_TIMEOUT", "30s"), check: wantField(func(c config.Config) any { return c.ShutdownTimeout }, 30*time.Second)},
		"SHUTDOWN_TIMEOUT 0":            {env: vars(nil, "SHUTDOWN_TIMEOUT", "0s"), check: wantField(func(c config.Config) any { return c.ShutdownTimeout }, time.Duration(0))},
		"SHUTDOWN_TIMEOUT soon":         {env: vars(nil, "SHUTDOWN_TIMEOUT", "soon"), wantErr: `SHUTDOWN_TIMEOUT="soon"`},
		"SHUTDOWN_TIMEOUT negative":     {env: vars(nil, "SHUTDOWN_TIMEOUT", "-5s"), wantErr: "SHUTDOWN_TIMEOUT"},
		"MAX_CONNECTIONS":               {env: vars(nil, "MAX_CONNECTIONS", "500"), check: wantField(func(c config.Config) any { return c.MaxConnections }, 500)},
		"MAX_CONNECTIONS unset":         {env: vars(nil), check: wantField(func(c config.Config) any { return c.MaxConnections }, 0)},
		"MAX_SHARDS":                    {env: vars(nil, "MAX_SHARDS", "1"), check: wantField(func(c config.Config) any { return c.MaxShards }, 1)},
		"MAX_SHARDS unset":              {env: vars(nil), check: wantField(func(c config.Config) any { return c.MaxShards }, 0)},
		"MAX_SHARDS 32":                 {env: vars(nil, "MAX_SHARDS", "32"), check: wantField(func(c config.Config) any { return c.MaxShards }, 32)},
		"MAX_SHARDS 33":                 {env: vars(nil, "MAX_SHARDS", "33"), wantErr: `MAX_SHARDS="33"`},
		"REPLICA_REGIONS":               {env: vars(nil, "REPLICA_REGIONS", "us-east-1, eu-west-1", "AWS_REGION", "eu-west-1"), check: wantField(func(c config.Config) any { return strings.Join(c.ReplicaRegions, ",") }, "us-east-1,eu-west-1")},
		"REPLICA_REGIONS unset":         {env: vars(nil), check: wantField(func(c config.Config) any { return len(c.ReplicaRegions) }, 0)},
		"REPLICA_REGIONS bad name":      {env: vars(nil, "REPLICA_REGIONS", "us-east-1,Mars", "AWS_REGION", "us-east-1"), wantErr: `REPLICA_REGIONS="us-east-1,Mars"`},
		"REPLICA_REGIONS no AWS_REGION": {env: vars(nil, "REPLICA_REGIONS", "us-east-1,eu-west-1", "AWS_REGION", "ap-south-1"), wantErr: `must list AWS_REGION`},
		"MAX_SHARDS 0":                  {env: vars(nil, "MAX_SHARDS", "0"), wantErr: `MAX_SHARDS="0"`},
		"MAX_CONNECTIONS 0":             {env: vars(nil, "MAX_CONNECTIONS", "0"), wantErr: `MAX_CONNECTIONS="0"`},
		"MAX_CONNECTIONS many":          {env: vars(nil, "MAX_CONNECTIONS", "lots"), wantErr: "MAX_CONNECTIONS"},

		"MAX_COUNTERS":          {env: vars(nil, "MAX_COUNTERS", "5000"), check: wantField(func(c config.Config) any { return c.MaxCounters }, 5000)},
		"MAX_COUNTERS unset":    {env: nil, check: wantField(func(c config.Config) any { return c.MaxCounters }, 0)},
		"MAX_COUNTERS 0":        {env: vars(nil, "MAX_COUNTERS", "0"), wantErr: `MAX_COUNTERS="0"`},
		"MAX_COUNTERS negative": {env: vars(nil, "MAX_COUNTERS", "-1"), wantErr: "MAX_COUNTERS"},
		"MAX_COUNTERS words":    {env: vars(nil, "MAX_COUNTERS", "many"), wantErr: "MAX_COUNTERS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := config.FromEnv(env(tc.env), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			tc.check(t, got)
		})
	}
}

func wantField(field func(config.Config) any, want any) func(*testing.T, config.Config) {
	return func(t *testing.T, c config.Config) {
		t.Helper()
		if got := field(c); got != want {
			t.Errorf("got %#v, want %#v", got, want)
		}
	}
}

// TestFromEnvNamesEveryBadVariable checks that one error lists every
// invalid setting, so a user fixes them in one go.
func TestFromEnvNamesEveryBadVariable(t *testing.T) {
	_, err := config.FromEnv(env(vars(nil, "RATE_LIMIT", "NaN", "API_KEYS", ",", "PORT", "x", "REQUEST_TIMEOUT", "abc")), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"RATE_LIMIT", "API_KEYS", "PORT", "REQUEST_TIMEOUT"} {
		if !strings.Contains(err.Error(), name+"=") {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestCredentials checks the one decision about AWS credentials: the
// environment's when set, none for a loopback endpoint, the chain
// otherwise.
func TestCredentials(t *testing.T) {
	chained := credentials.NewStaticCredentialsProvider("AKIDCHAIN", "secret", "")
	chain := func(region string) aws.CredentialsProvider {
		if region != "eu-west-1" {
			t.Errorf("chain asked for region %q, want eu-west-1", region)
		}
		return chained
	}
	tests := map[string]struct {
		env    map[string]string
		wantID string // "" for no provider
	}{
		"environment over the chain": {env: onAWS, wantID: "AKIDEXAMPLE"},
		"chain without environment":  {env: vars(onAWS, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", ""), wantID: "AKIDCHAIN"},
		"loopback needs none":        {env: local, wantID: ""},
		"loopback with environment":  {env: vars(local, "AWS_ACCESS_KEY_ID", "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY", "x"), wantID: "AKIDLOCAL"},
		"memory needs none":          {env: vars(awsCreds), wantID: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.FromEnv(env(tc.env), chain)
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.DynamoDB.Credentials
			if tc.wantID == "" {
				if p != nil {
					t.Fatalf("Credentials = %v, want none", p)
				}
				return
			}
			if p == nil {
				t.Fatalf("Credentials = nil, want %s", tc.wantID)
			}
			creds, err := p.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != tc.wantID {
				t.Errorf("credentials = %+v, %v; want access key %s", creds, err, tc.wantID)
			}
		})
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg, err := config.FromEnv(env(onAWS), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		if s := fmt.Sprintf(format, cfg); strings.Contains(s, "secret") || strings.Contains(s, "token") {
			t.Errorf("Printf(%q, cfg) = %s: shows a secret", format, s)
		}
	}
}

// The SHA-256 digests of the keys k1 and k2 (printf %s k1 | sha256sum).
const (
	digestK1 = "6ab9f1eb8f7d3388f4f9d586f66e99fd54080df2c446f0e58668b09c08a16dd0"
	digestK2 = "015f7e6bc5aeaf483724089e9252cc13b50951a6b69412522765cff4d780306e"
)

// TestDigestErrorHidesValue checks that a key pasted where its digest
// belongs does not reach the init error, and so the log.
func TestDigestErrorHidesValue(t *testing.T) {
	_, err := config.FromEnv(env(vars(nil, "API_KEY_DIGESTS", "s3cret-key")), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v, want an error without the value", err)
	}
}

// TestLogger: the logger writes in the configured format from the
// configured level: at WARN, as deployed, no request line.
func TestLogger(t *testing.T) {
	for format, want := range map[string]string{"JSON": `"level":"WARN","msg":"store unavailable"`, "Text": `level=WARN msg="store unavailable"`} {
		c, err := config.FromEnv(env(vars(nil, "AWS_LAMBDA_LOG_FORMAT", format, "AWS_LAMBDA_LOG_LEVEL", "WARN")), nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		log := c.Logger(&b)
		log.Debug("request", "path", "/counters/home/increment")
		log.Info("client gone")
		log.Warn("store unavailable")
		if got := b.String(); !strings.Contains(got, want) || strings.Contains(got, "request") || strings.Count(got, "\n") != 1 {
			t.Errorf("%s at WARN wrote %q, want one line with %s", format, got, want)
		}
	}
}
