// Package config is the service's configuration: every setting, read once
// from the environment into one Config that the standalone server and every
// Lambda function share (each uses what applies to it), and the store it
// names.
//
// Adding a setting is a change here: a field on Config with its doc, one
// line in FromEnv reading it with the environment method of its kind
// (duration, port, list, ...; they name the variable in their errors), its
// cases in TestFromEnv, and a row in docs/configuration.md.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/jsonlog"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
)

// Store kinds, the values of STORE.
const (
	StoreMemory   = "memory"
	StoreDynamoDB = "dynamodb"
	// StoreFile is the durable store in one local file (DATA_PATH), for
	// self-hosting the standalone server.
	StoreFile = "file"
)

// Defaults and bounds of the settings.
const (
	DefaultPort = 3000
	// DefaultRequestTimeout bounds each request's store work on DynamoDB;
	// it leaves room for the SDK's retries of throttled requests within a
	// Lambda timeout of a few seconds.
	DefaultRequestTimeout = 3 * time.Second
	// DefaultShutdownTimeout is the standalone server's grace period for
	// requests in flight when it stops.
	DefaultShutdownTimeout = 10 * time.Second
	// MaxRateLimit is the highest RATE_LIMIT, in requests per second per
	// client; a rate above it would limit nothing.
	MaxRateLimit = 1_000_000
	// MaxRateBurst is the highest RATE_LIMIT_BURST.
	MaxRateBurst = 1 << 30
	// DefaultCORSOrigins is what CORS_ALLOWED_ORIGINS unset means, for every
	// host (the standalone server, the functions, make local): any origin,
	// as the template's AllowedOrigins default, so that a page served from
	// another origin can use the API (embed.js) wherever it runs.
	DefaultCORSOrigins = "*"
	// CORSOff is the CORS_ALLOWED_ORIGINS value that turns CORS off: no
	// CORS headers at all.
	CORSOff = "none"
	// DefaultDataPath is the file store's data file when DATA_PATH is
	// unset, in the working directory (the image sets /data/hitcounter.db).
	DefaultDataPath = "hitcounter.db"
	// LogJSON and LogText are the log formats, the values of
	// AWS_LAMBDA_LOG_FORMAT.
	LogJSON = "JSON"
	LogText = "Text"
	// DefaultMetricsNamespace is METRICS_NAMESPACE unset.
	DefaultMetricsNamespace = "hitcounter"
)

// LevelTrace and LevelFatal are Lambda's log levels beyond slog's four.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
)

// Config is the service's configuration. Read it with FromEnv;
// docs/configuration.md lists the variables.
type Config struct {
	// Store is StoreMemory (the default), StoreDynamoDB or StoreFile
	// (STORE).
	Store string
	// DataPath is the file store's data file (DATA_PATH, default
	// DefaultDataPath).
	DataPath string
	// TableName is the DynamoDB table (TABLE_NAME), required for dynamodb.
	TableName string
	// StatsTableName is the DynamoDB table of hits over time
	// (STATS_TABLE_NAME, default TableName + "-stats").
	StatsTableName string
	// DynamoDB is the DynamoDB client's configuration: Region from
	// AWS_REGION (else AWS_DEFAULT_REGION), Endpoint from
	// AWS_ENDPOINT_URL_DYNAMODB (else AWS_ENDPOINT_URL), Credentials as
	// FromEnv describes (only for dynamodb).
	DynamoDB dynamostore.ClientConfig

	// RequestTimeout bounds each request's work in the store
	// (REQUEST_TIMEOUT): a store that does not answer in time makes the
	// request a 503. The default is DefaultRequestTimeout for dynamodb and
	// file (a disk can stall) and none (0) for memory, which never blocks.
	RequestTimeout time.Duration
	// CORSOrigins are the origins browsers may call the API from
	// (CORS_ALLOWED_ORIGINS, comma-separated, "*" for any; unset means
	// DefaultCORSOrigins). CORSOff gives none, which disables CORS headers.
	CORSOrigins []string
	// MaxShards is the most shards a hot counter gains on its own when
	// DynamoDB throttles its writes (MAX_SHARDS, 1 to counter.MaxShards;
	// 0, unset, is counter.MaxShards; 1 turns it off). A create or set may
	// still ask for up to counter.MaxShards.
	MaxShards int
	// ReplicaRegions are every region of a global table
	// (REPLICA_REGIONS, comma-separated; empty: one region, as before),
	// among them DynamoDB.Region, the one serving: with two or more, the
	// DynamoDB store writes only the serving region's items of a counter
	// (dynamostore.WithRegions).
	ReplicaRegions []string
	// HitCreates lets GET /counters/{name}/hit.svg create a missing counter
	// (HIT_CREATES_COUNTERS=true; default false): anyone who can load an
	// image can then create counters.
	HitCreates bool
	// APIKeyDigests are the SHA-256 digests of the keys the admin routes
	// require (API_KEY_DIGESTS: comma-separated, 64 hex digits each),
	// checked by the service itself like APIKeys: what a function behind
	// an HTTP API gets, which has no API keys of its own (the template's
	// AdminKeyDigests with ApiType=HTTP), so that the keys themselves are
	// never in the function's configuration.
	APIKeyDigests [][sha256.Size]byte
	// Uniques counts unique visitors per hour and day (UNIQUES=true, the
	// default; false turns it off): see internal/uniques. While it is on,
	// no client address is logged.
	Uniques bool
	// BotFilter leaves crawlers' requests out of hits and uniques and
	// counts them as bots (BOT_FILTER=true, the default; false counts
	// them as anyone): see internal/crawlers.
	BotFilter bool
	// APIKeysRequired says that a gateway in front of the service requires
	// API keys on the admin routes (API_KEYS_REQUIRED=true; default false):
	// API Gateway, when the template's RequireApiKeys is true. The
	// functions cannot see those keys, so the template tells them.
	APIKeysRequired bool
	// PublicMaxIncrement is the largest by the open increment takes when
	// API keys are on (KeysOn): PUBLIC_MAX_INCREMENT, 1 to
	// counter.MaxCount, default 1. A stranger can then add views and
	// nothing else; other changes go through the admin route PATCH
	// /counters/{name}. With keys off the increment takes any by.
	PublicMaxIncrement int64
	// MaxCounters caps the number of counters of the memory store
	// (MAX_COUNTERS, a positive whole number; 0, the default, is
	// memstore.DefaultMaxCounters): a write that would create one more is
	// 507 store_full. DynamoDB has no such cap.
	MaxCounters int
	// LogLevel is the least level logged (AWS_LAMBDA_LOG_LEVEL, as Lambda
	// sets it from the function's ApplicationLogLevel, else LOG_LEVEL:
	// TRACE, DEBUG, INFO, WARN, ERROR or FATAL; default DEBUG, everything).
	// Request lines are DEBUG, so WARN, the template's default, writes
	// none per request and keeps errors and warnings.
	LogLevel slog.Level
	// LogFormat is LogJSON (the default) or LogText (AWS_LAMBDA_LOG_FORMAT,
	// as Lambda sets it from the function's LogFormat).
	LogFormat string
	// MetricsNamespace is the CloudWatch namespace of the health probe's
	// metric (METRICS_NAMESPACE, default DefaultMetricsNamespace; the
	// template sets the stack's name).
	MetricsNamespace string

	// The settings below are the standalone server's; Lambda functions
	// ignore them (API Gateway does their work there).

	// APIKeys protect the admin routes (API_KEYS, comma-separated); none
	// leaves them open.
	APIKeys []string
	// RateLimit is each client's average requests/s (RATE_LIMIT; 0, the
	// default, is off) and RateBurst its burst (RATE_LIMIT_BURST, default
	// twice the rate, at least 1; 0 when there is no limit).
	RateLimit float64
	RateBurst int
	// RateIPv6Prefix is the length of the IPv6 prefix that the rate limit
	// counts as one client (RATE_LIMIT_IPV6_PREFIX, 1 to 128, default
	// ratelimit.DefaultIPv6Prefix; 0 when there is no limit); an IPv4
	// client is its address.
	RateIPv6Prefix int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For the
	// server believes (TRUSTED_PROXIES: comma-separated addresses or
	// CIDR prefixes); none, the default, believes no one.
	TrustedProxies []netip.Prefix
	// Addr is the listen address: HOST (default all interfaces) and PORT
	// (default DefaultPort).
	Addr string
	// ShutdownTimeout is the grace period for requests in flight when the
	// server stops (SHUTDOWN_TIMEOUT, default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// MaxConnections caps the server's open client connections
	// (MAX_CONNECTIONS, a positive whole number); 0, the default, lets the
	// server derive the cap from its descriptor limit.
	MaxConnections int
}

// CredentialsChain returns the AWS credentials provider to use, for the
// region, when the environment holds no credentials. The standalone server
// passes the SDK's default chain (profiles, SSO, container and instance
// roles); Lambda functions pass nil: Lambda always sets the variables, and
// the chain would link the SDK's configuration loader into every function
// (its size is in docs/benchmarks.md).
type CredentialsChain func(region string) aws.CredentialsProvider

// FromEnv reads the configuration through getenv (os.Getenv in mains). A
// variable that is set must hold a valid value, whatever the store: the
// error names every one that does not.
//
// For dynamodb, the credentials are AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN when set; otherwise, for a loopback endpoint, none
// (dynamostore.NewClient then uses dummy ones); otherwise chain's provider.
// Without any of these it is an error.
func FromEnv(getenv func(string) string, chain CredentialsChain) (Config, error) {
	e := &environment{getenv: getenv}
	cfg := Config{
		Store:            e.oneOf("STORE", StoreMemory, StoreDynamoDB, StoreFile),
		DataPath:         e.path("DATA_PATH", DefaultDataPath),
		CORSOrigins:      e.origins("CORS_ALLOWED_ORIGINS"),
		HitCreates:       e.oneOf("HIT_CREATES_COUNTERS", "false", "true") == "true",
		MaxCounters:      e.positive("MAX_COUNTERS", "a whole number of counters, at least 1"),
		APIKeys:          e.list("API_KEYS", "keys for the admin routes"),
		RateLimit:        e.rate("RATE_LIMIT"),
		TrustedProxies:   e.prefixes("TRUSTED_PROXIES"),
		Addr:             net.JoinHostPort(getenv("HOST"), strconv.Itoa(e.port("PORT"))),
		ShutdownTimeout:  e.duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout),
		MaxConnections:   e.positive("MAX_CONNECTIONS", "a whole number of connections, at least 1"),
		LogFormat:        e.oneOf("AWS_LAMBDA_LOG_FORMAT", LogJSON, LogText),
		MetricsNamespace: getenv("METRICS_NAMESPACE"),
		Uniques:          e.oneOf("UNIQUES", "true", "false") == "true",
		BotFilter:        e.oneOf("BOT_FILTER", "true", "false") == "true",
	}
	cfg.APIKeyDigests = e.digests("API_KEY_DIGESTS")
	if cfg.MetricsNamespace == "" {
		cfg.MetricsNamespace = DefaultMetricsNamespace
	}
	cfg.LogLevel = e.logLevel("AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL")
	cfg.APIKeysRequired = e.oneOf("API_KEYS_REQUIRED", "false", "true") == "true"
	cfg.PublicMaxIncrement = e.publicMaxIncrement("PUBLIC_MAX_INCREMENT")
	if cfg.MaxShards = e.positive("MAX_SHARDS", fmt.Sprintf("a whole number from 1 to %d", counter.MaxShards)); cfg.MaxShards > counter.MaxShards {
		e.invalid("MAX_SHARDS", getenv("MAX_SHARDS"), fmt.Sprintf("a whole number from 1 to %d", counter.MaxShards))
	}
	cfg.RateBurst = e.burst("RATE_LIMIT_BURST", cfg.RateLimit)
	cfg.RateIPv6Prefix = e.ipv6Prefix("RATE_LIMIT_IPV6_PREFIX", cfg.RateLimit)
	defaultTimeout := time.Duration(0)
	if cfg.Store == StoreDynamoDB || cfg.Store == StoreFile {
		defaultTimeout = DefaultRequestTimeout
	}
	cfg.RequestTimeout = e.duration("REQUEST_TIMEOUT", defaultTimeout)

	cfg.TableName = e.tableName("TABLE_NAME")
	cfg.StatsTableName = e.tableName("STATS_TABLE_NAME")
	if cfg.StatsTableName == "" && cfg.TableName != "" {
		cfg.StatsTableName = cfg.TableName + "-stats"
	}
	cfg.DynamoDB = dynamostore.ClientConfig{
		Region:   firstSet(getenv, "AWS_REGION", "AWS_DEFAULT_REGION"),
		Endpoint: e.endpoint("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"),
	}
	cfg.ReplicaRegions = splitList(getenv("REPLICA_REGIONS"))
	for _, r := range cfg.ReplicaRegions {
		if !dynamostore.ValidRegion(r) {
			e.invalid("REPLICA_REGIONS", getenv("REPLICA_REGIONS"), "AWS region names, comma-separated")
			break
		}
	}
	if len(cfg.ReplicaRegions) > 0 && !slices.Contains(cfg.ReplicaRegions, cfg.DynamoDB.Region) {
		e.fail(fmt.Errorf("REPLICA_REGIONS=%q must list AWS_REGION (%q), the region that serves", getenv("REPLICA_REGIONS"), cfg.DynamoDB.Region))
	}
	envCreds := e.credentials()
	if cfg.Store == StoreDynamoDB {
		client := cfg.DynamoDB
		if cfg.TableName == "" && getenv("TABLE_NAME") == "" {
			e.fail(errors.New("STORE=dynamodb needs TABLE_NAME"))
		}
		if client.Region == "" && !client.Local() {
			e.fail(errors.New("STORE=dynamodb needs AWS_REGION (or a loopback AWS_ENDPOINT_URL_DYNAMODB, such as DynamoDB Local's)"))
		}
		switch {
		case envCreds != nil:
			cfg.DynamoDB.Credentials = envCreds
		case client.Local():
			// none: dynamostore.NewClient gives DynamoDB Local dummy ones
		case chain != nil:
			cfg.DynamoDB.Credentials = chain(client.Region)
		default:
			e.fail(errors.New("STORE=dynamodb needs AWS credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them)"))
		}
	}
	if err := e.err(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// environment reads variables through getenv and collects what is wrong
// with them. Each method reads one variable, returns its value (or the
// default when it is unset) and records an error naming it when it is set
// to something invalid.
type environment struct {
	getenv func(string) string
	errs   []error
}

func (e *environment) fail(err error) { e.errs = append(e.errs, err) }

func (e *environment) invalid(name, value, want string) {
	e.fail(fmt.Errorf("%s=%q: want %s", name, value, want))
}

func (e *environment) err() error { return errors.Join(e.errs...) }

func (e *environment) oneOf(name string, values ...string) string {
	v := e.getenv(name)
	if v == "" {
		return values[0]
	}
	for _, ok := range values {
		if v == ok {
			return v
		}
	}
	e.invalid(name, v, strings.Join(values, " or "))
	return values[0]
}

// logLevels are the log levels by their names in Lambda's LoggingConfig.
var logLevels = map[string]slog.Level{"TRACE": LevelTrace, "DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo,
	"WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": LevelFatal}

// logLevel reads the first of names that is set as a log level (any case);
// none set is DEBUG.
func (e *environment) logLevel(names ...string) slog.Level {
	for _, name := range names {
		if v := e.getenv(name); v != "" {
			l, ok := logLevels[strings.ToUpper(v)]
			if !ok {
				e.invalid(name, v, "TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
			}
			return l
		}
	}
	return slog.LevelDebug
}

// Logger returns a logger writing to w in the configured format, from the
// configured level.
func (c Config) Logger(w io.Writer) *slog.Logger {
	if c.LogFormat == LogText {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: c.LogLevel}))
	}
	return slog.New(jsonlog.New(w, c.LogLevel))
}

// list reads a comma-separated list; blanks around and between items are
// dropped, but a list that is set must hold at least one item.
func (e *environment) list(name, what string) []string {
	v := e.getenv(name)
	items := splitList(v)
	if v != "" && len(items) == 0 {
		e.invalid(name, v, "comma-separated "+what+" (unset it for none)")
	}
	return items
}

// digests reads a list of SHA-256 digests in hex (either case). An
// invalid value is not repeated in the error: it may be a key pasted in
// place of its digest.
func (e *environment) digests(name string) [][sha256.Size]byte {
	v := e.getenv(name)
	var out [][sha256.Size]byte
	for _, item := range splitList(v) {
		var d [sha256.Size]byte
		if len(item) != hex.EncodedLen(sha256.Size) {
			out = nil
			break
		}
		if _, err := hex.Decode(d[:], []byte(item)); err != nil {
			out = nil
			break
		}
		out = append(out, d)
	}
	if v != "" && out == nil {
		e.fail(fmt.Errorf("%s (value not shown): want comma-separated SHA-256 digests of the keys, 64 hex digits each (printf %%s \"$KEY\" | sha256sum)", name))
	}
	return out
}

// origins reads CORS_ALLOWED_ORIGINS: unset is DefaultCORSOrigins, CORSOff
// alone is none, anything else a list of origins or "*".
func (e *environment) origins(name string) []string {
	v := e.getenv(name)
	switch strings.TrimSpace(v) {
	case "":
		if v == "" {
			return []string{DefaultCORSOrigins}
		}
	case CORSOff:
		return nil
	}
	const want = "comma-separated origins such as https://example.com (scheme and host, no path), * for any, or " + CORSOff + " for no CORS"
	origins := splitList(v)
	if len(origins) == 0 {
		e.invalid(name, v, want)
	}
	for _, o := range origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
			e.invalid(name, v, fmt.Sprintf("%s; %q is not one", want, o))
			break
		}
	}
	return origins
}

func (e *environment) duration(name string, def time.Duration) time.Duration {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.invalid(name, v, "a duration such as 3s or 500ms (0 for none)")
		return def
	}
	return d
}

func (e *environment) port(name string) int {
	v := e.getenv(name)
	if v == "" {
		return DefaultPort
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		e.invalid(name, v, "a port number, 0 to 65535 (0 picks a free one)")
		return DefaultPort
	}
	return n
}

// positive reads an optional whole number of at least 1; unset is 0.
func (e *environment) positive(name, want string) int {
	v := e.getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		e.invalid(name, v, want)
		return 0
	}
	return n
}

func (e *environment) rate(name string) float64 {
	v := e.getenv(name)
	if v == "" {
		return 0
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(r) || r < 0 || r > MaxRateLimit {
		e.invalid(name, v, fmt.Sprintf("requests per second per client, 0 to %d (0 turns the limit off)", MaxRateLimit))
		return 0
	}
	return r
}

func (e *environment) burst(name string, rate float64) int {
	v := e.getenv(name)
	if rate == 0 {
		if v != "" {
			e.fail(fmt.Errorf("%s=%q: RATE_LIMIT is not set, so there is no limit to burst over: set RATE_LIMIT too, or unset %s", name, v, name))
		}
		return 0
	}
	def := max(1, int(math.Ceil(2*rate)))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxRateBurst {
		e.invalid(name, v, fmt.Sprintf("a whole number of requests, 1 to %d", MaxRateBurst))
		return def
	}
	return n
}

// KeysOn reports whether the admin routes require API keys: the server's
// own (API_KEYS, API_KEY_DIGESTS), or a gateway's in front of it (API_KEYS_REQUIRED).
func (c Config) KeysOn() bool {
	return len(c.APIKeys) > 0 || len(c.APIKeyDigests) > 0 || c.APIKeysRequired
}

// publicMaxIncrement reads the open increment's bound: 1 to MaxCount,
// default 1.
func (e *environment) publicMaxIncrement(name string) int64 {
	v := e.getenv(name)
	if v == "" {
		return 1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > counter.MaxCount {
		e.invalid(name, v, fmt.Sprintf("the largest increment the open route takes when API keys are on, 1 to %d", counter.MaxCount))
		return 1
	}
	return n
}

// ipv6Prefix reads the prefix length that makes one rate-limited IPv6
// client: only with a rate limit.
func (e *environment) ipv6Prefix(name string, rate float64) int {
	v := e.getenv(name)
	if rate == 0 {
		if v != "" {
			e.fail(fmt.Errorf("%s=%q: RATE_LIMIT is not set, so there is no limit to group clients for: set RATE_LIMIT too, or unset %s", name, v, name))
		}
		return 0
	}
	if v == "" {
		return ratelimit.DefaultIPv6Prefix
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 128 {
		e.invalid(name, v, "a prefix length, 1 to 128 (64: each /64 is one client; 128: each address)")
		return ratelimit.DefaultIPv6Prefix
	}
	return n
}

// path reads a file path: anything but blanks around it.
func (e *environment) path(name, def string) string {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	if strings.TrimSpace(v) != v || strings.ContainsRune(v, 0) {
		e.invalid(name, v, "a file path, such as /data/hitcounter.db")
		return def
	}
	return v
}

// prefixes reads a comma-separated list of IP addresses (each one a
// prefix of its full length) and CIDR prefixes such as 10.0.0.0/8.
func (e *environment) prefixes(name string) []netip.Prefix {
	v := e.getenv(name)
	items := splitList(v)
	const want = "comma-separated IP addresses or CIDR prefixes of your reverse proxies, such as 127.0.0.1,10.0.0.0/8"
	if v != "" && len(items) == 0 {
		e.invalid(name, v, want)
	}
	var out []netip.Prefix
	for _, item := range items {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				e.invalid(name, v, fmt.Sprintf("%s; %q is not one", want, item))
				return nil
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// validTableName reports whether name follows DynamoDB's rule for table
// names, ^[A-Za-z0-9_.-]{3,255}$. It is checked by hand: a package-level
// regexp.MustCompile would compile at every Lambda function's init, which
// the Lambda init target (docs/benchmarks.md) cannot spare.
func validTableName(name string) bool {
	if len(name) < 3 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func (e *environment) tableName(name string) string {
	v := e.getenv(name)
	if v != "" && !validTableName(v) {
		e.invalid(name, v, "a DynamoDB table name: 3 to 255 letters, digits, _, . or -")
		return ""
	}
	return v
}

// endpoint reads the first of names that is set: a URL with an http or
// https scheme and a host.
func (e *environment) endpoint(names ...string) string {
	for _, name := range names {
		v := e.getenv(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			e.invalid(name, v, "a URL such as http://127.0.0.1:8000")
			return ""
		}
		return v
	}
	return ""
}

// credentials returns the credentials of the environment, or nil if it
// holds none.
func (e *environment) credentials() aws.CredentialsProvider {
	id, secret := e.getenv("AWS_ACCESS_KEY_ID"), e.getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		// Behind a pointer, so that a printed Config shows an address,
		// not the secrets.
		p := credentials.NewStaticCredentialsProvider(id, secret, e.getenv("AWS_SESSION_TOKEN"))
		return &p
	case id != "":
		e.fail(errors.New("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither"))
	case secret != "":
		e.fail(errors.New("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither"))
	}
	return nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, name := range names {
		if v := getenv(name); v != "" {
			return v
		}
	}
	return ""
}
