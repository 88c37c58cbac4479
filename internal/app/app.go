// Package app is hitcounter's composition root: the one place that turns a
// config.Config into the running parts: the store (in memory, in a file,
// or on DynamoDB with the process's one DynamoDB client), the HTTP handler
// with its options, the history aggregator. Every host takes the parts it needs from an App: the
// standalone server (internal/server) all of them, with the stream poller
// that feeds the aggregator on a local DynamoDB (a part of its own, so that
// no Lambda function links the streams client); each Lambda function
// (internal/lambdafn) its routes' handler or the aggregator. What a host
// serves beyond that is decided by what its main imports: the page routes
// need internal/pages.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hitcounter/hitcounter/internal/config"
	"github.com/hitcounter/hitcounter/internal/counter"
	"github.com/hitcounter/hitcounter/internal/crawlers"
	"github.com/hitcounter/hitcounter/internal/dynamostore"
	"github.com/hitcounter/hitcounter/internal/filestore"
	"github.com/hitcounter/hitcounter/internal/history"
	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/internal/memstore"
	"github.com/hitcounter/hitcounter/internal/ratelimit"
	"github.com/hitcounter/hitcounter/internal/uniques"
)

// Options change what Open does.
type Options struct {
	// Logger receives the request log, the causes of internal errors and
	// of failed aggregation batches; nil discards them.
	Logger *slog.Logger
	// PrepareLocal makes Open, against a loopback DynamoDB endpoint, wait
	// up to LocalWait for DynamoDB to answer, then create the tables if
	// they are missing (never in AWS). The standalone server asks for it;
	// Lambda functions do not (make local creates their tables), which
	// keeps DynamoDB's table management out of every function binary.
	PrepareLocal bool
	// Salts gives the day's salt of unique visitors (config.Uniques);
	// nil: the process's memory, on the file store a file beside the data
	// file, on DynamoDB the counter table (shared by every process).
	// Tests inject theirs.
	Salts uniques.Salts
}

// App is hitcounter's parts for one configuration. Build it with Open.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	store  counter.Store
	dynamo *dynamodb.Client // the process's DynamoDB client; nil on the other stores
	file   *filestore.Store // the file store; nil on the other stores
	salts  uniques.Salts    // the salts of unique visitors
}

// How long Open waits, at most, to fetch credentials.
const credentialsTimeout = 10 * time.Second

// Open builds the store cfg names (cfg comes from config.FromEnv). On
// DynamoDB it builds the process's one DynamoDB client and fetches the
// credentials once, so that a process without any fails at start rather
// than on every request. It makes no other network call against AWS; see
// Options.PrepareLocal for a loopback endpoint.
func Open(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	a := &App{cfg: cfg, log: opts.Logger, salts: opts.Salts}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.salts == nil {
		a.salts = &uniques.MemorySalts{}
	}
	switch cfg.Store {
	case config.StoreFile:
		fs, err := filestore.Open(cfg.DataPath)
		if err != nil {
			return nil, err
		}
		if note := fs.Recovered(); note != "" {
			a.log.Warn("data file: "+note, "data_path", cfg.DataPath)
		}
		a.store, a.file = fs, fs
		if opts.Salts == nil { // beside the data file: a restart keeps the day's
			a.salts = fs
		}
		return a, nil
	case config.StoreDynamoDB:
	default:
		var opts []memstore.Option
		if cfg.MaxCounters > 0 {
			opts = append(opts, memstore.WithMaxCounters(cfg.MaxCounters))
		}
		a.store = memstore.New(opts...)
		return a, nil
	}
	a.dynamo = dynamostore.NewClient(cfg.DynamoDB)
	switch {
	case cfg.DynamoDB.Local() && opts.PrepareLocal:
		if err := prepareLocal(ctx, a.dynamo, cfg); err != nil {
			return nil, fmt.Errorf("local tables %q and %q: %w", cfg.TableName, cfg.StatsTableName, err)
		}
	case !cfg.DynamoDB.Local():
		ctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
		defer cancel()
		if _, err := cfg.DynamoDB.Credentials.Retrieve(ctx); err != nil {
			return nil, fmt.Errorf("AWS credentials: %w", err)
		}
	}
	storeOpts := []dynamostore.Option{dynamostore.WithStatsTable(cfg.StatsTableName), dynamostore.WithLogger(a.log)}
	if cfg.MaxShards > 0 {
		storeOpts = append(storeOpts, dynamostore.WithMaxShards(cfg.MaxShards))
	}
	if len(cfg.ReplicaRegions) > 1 {
		storeOpts = append(storeOpts, dynamostore.WithRegions(cfg.DynamoDB.Region, cfg.ReplicaRegions))
		if !cfg.DynamoDB.Local() { // a local endpoint is one region; the others are AWS's
			storeOpts = append(storeOpts, dynamostore.WithReplicaClients(replicaClients(cfg)))
		}
	}
	a.store = dynamostore.New(a.dynamo, cfg.TableName, storeOpts...)
	if opts.Salts == nil { // every function of a deployment uses the day's same salt
		a.salts = dynamostore.NewSalts(a.dynamo, cfg.TableName)
	}
	return a, nil
}

// KeepSalts makes sure the salts of unique visitors of the UTC day of now
// and of the next day exist, making whichever is missing, when the
// configuration counts uniques (nothing otherwise). The health probe calls
// it once a minute in every region, so that each day's salt is made a day
// before it is used, whatever the traffic: with replica regions, two
// regions making one day's salt at once would each keep a salt until
// replication settles, and a visitor seen in both would count twice
// (docs/dynamodb.md, "Unique visitors and bots across regions").
func (a *App) KeepSalts(ctx context.Context, now time.Time) error {
	if !a.cfg.Uniques {
		return nil
	}
	today := counter.Day.Start(now)
	for _, day := range []time.Time{today.AddDate(0, 0, 1), today} { // tomorrow's first: a store may forget the days before the one it loads
		if _, err := a.salts.Salt(ctx, day); err != nil {
			return err
		}
	}
	return nil
}

// replicaClients builds a DynamoDB client for each replica region but the
// serving one, with the process's credentials: where a keyed write looks
// for its record before it applies (dynamostore.WithReplicaClients).
// Building one makes no network call.
func replicaClients(cfg config.Config) map[string]dynamostore.Client {
	clients := map[string]dynamostore.Client{}
	for _, r := range cfg.ReplicaRegions {
		if r != cfg.DynamoDB.Region {
			c := cfg.DynamoDB
			c.Region = r
			clients[r] = dynamostore.NewClient(c)
		}
	}
	return clients
}

// Config returns the configuration the App was opened with.
func (a *App) Config() config.Config { return a.cfg }

// Store returns the store.
func (a *App) Store() counter.Store { return a.store }

// Close releases what Open took: the file store's file and its lock
// (after the writes in flight are committed). The other stores hold
// nothing to release.
func (a *App) Close() error {
	if a.file != nil {
		return a.file.Close()
	}
	return nil
}

// FileCommits returns, on the file store, how many transactions it
// committed and how many writes they carried (filestore.Store.Commits);
// ok is false on the other stores.
func (a *App) FileCommits() (commits, writes int64, ok bool) {
	if a.file == nil {
		return 0, 0, false
	}
	commits, writes = a.file.Commits()
	return commits, writes, true
}

// Handler returns the HTTP API serving routes (httpapi.Route* names; nil
// for all of them) on the store, configured as the App's configuration
// says; pages serves the page routes (nil for none: see httpapi.Pages),
// maintenance the maintenance routes (the zero value for none; the
// standalone server passes Maintenance()).
func (a *App) Handler(routes []string, pages httpapi.Pages, maintenance httpapi.Maintenance) (http.Handler, error) {
	opts := httpapi.Options{
		Routes:         routes,
		Pages:          pages,
		Maintenance:    maintenance,
		Logger:         a.log,
		Timeout:        a.cfg.RequestTimeout,
		APIKeys:        a.cfg.APIKeys,
		APIKeyDigests:  a.cfg.APIKeyDigests,
		CORSOrigins:    a.cfg.CORSOrigins,
		HitCreates:     a.cfg.HitCreates,
		MaxHeaderBytes: httpapi.MaxHeaderBytes,
		TrustedProxies: a.cfg.TrustedProxies,
	}
	if a.cfg.KeysOn() { // a stranger adds views, and nothing else
		opts.PublicMaxIncrement = a.cfg.PublicMaxIncrement
	}
	if a.cfg.Uniques {
		opts.Visitors = uniques.NewHasher(a.salts, nil)
	}
	// Only the routes that add hits tell crawlers apart: the others do not
	// pay for reading the list (about 30 ms, at a Lambda function's start).
	if a.cfg.BotFilter && (routes == nil || slices.Contains(routes, httpapi.RouteIncrement) || slices.Contains(routes, httpapi.RouteHit)) {
		d, err := crawlers.New()
		if err != nil {
			return nil, err
		}
		opts.Crawlers = d
	}
	if a.cfg.RateLimit > 0 {
		opts.RateLimiter = ratelimit.New(a.cfg.RateLimit, a.cfg.RateBurst, ratelimit.WithIPv6Prefix(a.cfg.RateIPv6Prefix))
	}
	return httpapi.New(a.store, opts)
}

// Maintenance returns the maintenance routes the standalone server serves
// on this store (httpapi.Options.Maintenance): export and import on every
// store, the snapshot on the file store. Lambda functions serve none.
func (a *App) Maintenance() httpapi.Maintenance {
	m := httpapi.Maintenance{Export: true}
	if imp, ok := a.store.(counter.Importer); ok {
		m.Importer = imp
	}
	if a.file != nil {
		m.Snapshotter = a.file
	}
	return m
}

// Aggregator returns the history aggregator, which adds the counter
// table's stream records into the stats table's hour and day buckets, on
// the process's DynamoDB client. It fails on the memory store, whose
// history needs none.
func (a *App) Aggregator() (*history.Aggregator, error) {
	if a.dynamo == nil {
		return nil, fmt.Errorf("app: the history aggregator needs STORE=%s, not %q", config.StoreDynamoDB, a.cfg.Store)
	}
	return history.NewAggregator(a.dynamo, a.cfg.StatsTableName, a.log), nil
}

// StreamARN returns the counter table's stream, which the history
// aggregator follows; it fails on the memory store.
func (a *App) StreamARN(ctx context.Context) (string, error) {
	if a.dynamo == nil {
		return "", fmt.Errorf("app: no stream on STORE=%q", a.cfg.Store)
	}
	return dynamostore.StreamARN(ctx, a.dynamo, a.cfg.TableName)
}
