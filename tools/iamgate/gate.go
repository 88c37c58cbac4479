package iamgate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hitcounter/hitcounter/internal/dynamostore"
)

// Principal is a caller of the gate: a function, with its role's policies.
type Principal struct {
	// Name is the function, e.g. HitFunction: the role session's name.
	Name string
	// Role is the role's logical ID, e.g. HitFunctionRole.
	Role string
	// AccessKeyID identifies the principal's requests (see Credentials).
	AccessKeyID string
	// Tags are the role's tags (aws:PrincipalTag/<key>), by key.
	Tags map[string]string
	// Statements are the statements of every policy of the role.
	Statements []Statement
}

// ARN is the principal's ARN as DynamoDB names it in an
// AccessDeniedException: the role's session of the function.
func (p *Principal) ARN(r *Resources) string {
	return fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", or(r.Partition, LocalPartition), or(r.AccountID, LocalAccountID), p.Role, p.Name)
}

func (p *Principal) tag(key string) (string, bool) {
	for k, v := range p.Tags {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// Decision is the gate's answer to one check of a request: an action on a
// resource by a principal.
type Decision struct {
	Principal string // the function
	Operation string // the request's operation, e.g. TransactWriteItems
	Action    string // e.g. dynamodb:PutItem
	Resource  string
	Allowed   bool
	// Statements are the indexes (in Principal.Statements) of the
	// statements that allowed it.
	Statements []int
	// Reason says why it was refused, as the AccessDeniedException's
	// message ends: "because no identity-based policy allows ...".
	Reason string
}

// decide evaluates the principal's statements for one check, as IAM
// evaluates identity-based policies: an explicit deny wins, then any
// allow; nothing else is allowed. A statement the gate does not understand
// that may apply refuses the request.
func (p *Principal) decide(c check) Decision {
	d := Decision{Principal: p.Name, Action: c.action, Resource: c.resource}
	problem, denied := "", false
	for i, st := range p.Statements {
		if !st.matchesAction(c.action) {
			continue
		}
		if st.Problem != "" {
			problem = st.Problem
			continue
		}
		if !st.matchesResource(c.resource) {
			continue
		}
		holds, prob := p.conditionsHold(st, c)
		switch {
		case prob != "":
			problem = prob
		case !holds:
		case st.Effect == "Deny":
			denied = true
		default:
			d.Statements = append(d.Statements, i)
		}
	}
	switch {
	case problem != "":
		d.Reason = "because the local gate (tools/iamgate) does not understand " + problem
	case denied:
		d.Reason = "with an explicit deny in an identity-based policy"
	case len(d.Statements) == 0:
		d.Reason = "because no identity-based policy allows the " + c.action + " action"
	default:
		d.Allowed = true
	}
	if !d.Allowed {
		d.Statements = nil
	}
	return d
}

// conditionsHold evaluates a statement's conditions for check c. It
// reports a problem when they depend on a key whose value the gate cannot
// tell for c.
func (p *Principal) conditionsHold(st Statement, c check) (bool, string) {
	var unknown string
	for _, cond := range st.Conditions {
		if why, ok := c.unknown[cond.Key]; ok {
			unknown = cond.Key + " for " + why
			continue
		}
		var values []string
		present := false
		if tag, ok := strings.CutPrefix(cond.Key, keyPrincipalTagPrefix); ok {
			if v, ok := p.tag(tag); ok {
				values, present = []string{v}, true
			}
		} else {
			values, present = c.keys[cond.Key]
		}
		if !cond.holds(values, present) {
			return false, ""
		}
	}
	return unknown == "", unknown
}

// Options configure a Gate.
type Options struct {
	// Resources is where the policies' tables are; see Resources.
	Resources Resources
	// Logger receives a line for every refused request; nil discards them.
	Logger *slog.Logger
	// OnDecision, if set, is called with every check the gate decides,
	// allowed or not (tests collect them). It must be safe for concurrent
	// use.
	OnDecision func(Decision)
}

// Gate is a forwarding proxy in front of DynamoDB (Local) that lets each
// principal do what its policies allow, and answers anything else as
// DynamoDB answers a request IAM refuses. It is an http.Handler; Start
// serves it on a loopback port.
type Gate struct {
	upstream   *url.URL
	principals map[string]*Principal // by access key ID
	byName     map[string]*Principal
	opts       Options
	proxy      *httputil.ReverseProxy
	describe   *dynamodb.Client // the gate's own, for key schemas

	mu   sync.Mutex
	keys map[string]tableKeys // by table name

	srv *http.Server
	url string
}

// tableKeys are the partition key attributes of a table and its indexes.
type tableKeys struct {
	table   string
	indexes map[string]string // index name → its partition key; "" for a GSI on another key
}

// New returns a gate in front of the DynamoDB at upstream (a loopback URL:
// DynamoDB Local) for principals, each with a distinct name and access key.
func New(upstream string, principals []Principal, opts Options) (*Gate, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("iamgate: upstream %q: not a URL", upstream)
	}
	if !dynamostore.IsLoopbackEndpoint(upstream) {
		return nil, fmt.Errorf("iamgate: upstream %q: the gate stands in front of DynamoDB Local only", upstream)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gate{
		upstream:   u,
		principals: map[string]*Principal{},
		byName:     map[string]*Principal{},
		opts:       opts,
		describe:   dynamostore.NewClient(dynamostore.ClientConfig{Endpoint: upstream}),
		keys:       map[string]tableKeys{},
	}
	for i := range principals {
		p := &principals[i]
		if p.AccessKeyID == "" {
			p.AccessKeyID = AccessKeyID(p.Name)
		}
		if !alphanumeric(p.AccessKeyID) {
			return nil, fmt.Errorf("iamgate: principal %s: access key ID %q: DynamoDB Local takes letters and digits only", p.Name, p.AccessKeyID)
		}
		if g.principals[p.AccessKeyID] != nil || g.byName[p.Name] != nil {
			return nil, fmt.Errorf("iamgate: principal %s (access key %s) given twice", p.Name, p.AccessKeyID)
		}
		g.principals[p.AccessKeyID], g.byName[p.Name] = p, p
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.opts.Logger.Error("iamgate: upstream", "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return g, nil
}

// AccessKeyID is the access key ID the gate gives a principal unless told
// otherwise: its name after "local" (DynamoDB Local refuses an access key
// ID that is not letters and digits only).
func AccessKeyID(name string) string { return "local" + name }

func alphanumeric(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// Principal returns the principal with the given name.
func (g *Gate) Principal(name string) (*Principal, bool) {
	p, ok := g.byName[name]
	return p, ok
}

// Principals returns the gate's principals, by name.
func (g *Gate) Principals() []*Principal {
	out := make([]*Principal, 0, len(g.byName))
	for _, p := range g.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Credentials returns the credentials that make requests the named
// principal's: its access key ID, any secret.
func (g *Gate) Credentials(name string) (aws.CredentialsProvider, error) {
	p, ok := g.byName[name]
	if !ok {
		return nil, fmt.Errorf("iamgate: no principal %s", name)
	}
	return credentials.NewStaticCredentialsProvider(p.AccessKeyID, "local", ""), nil
}

// Start serves the gate on addr (127.0.0.1:0 for a free port) until Close.
func (g *Gate) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("iamgate: %w", err)
	}
	g.url = "http://" + ln.Addr().String()
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return nil
}

// URL is the gate's endpoint once started, e.g. http://127.0.0.1:41234.
func (g *Gate) URL() string { return g.url }

// Close stops serving.
func (g *Gate) Close() error {
	if g.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.srv.Shutdown(ctx)
}

// maxBody bounds a request body (DynamoDB's own limit is 16 MB).
const maxBody = 16 << 20

// ServeHTTP authorizes a DynamoDB request and forwards it, or answers it
// with the error DynamoDB gives for it.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, "com.amazon.coral.service#SerializationException", "request body unreadable or over 16 MB")
		return
	}
	p, code, msg := g.caller(r)
	if p == nil {
		writeError(w, "com.amazon.coral.service#"+code, msg)
		return
	}
	req, err := parseRequest(r.Header.Get("X-Amz-Target"), body)
	var checks []check
	if err == nil {
		checks, err = req.checks(r.Context(), &g.opts.Resources, g)
	}
	if err != nil {
		d := Decision{Principal: p.Name, Operation: req.operation, Action: "dynamodb:" + req.operation, Resource: "*",
			Reason: "because the local gate (tools/iamgate) does not understand the request: " + err.Error()}
		if g.opts.OnDecision != nil {
			g.opts.OnDecision(d)
		}
		g.refuse(w, p, d)
		return
	}
	for _, c := range checks {
		d := p.decide(c)
		d.Operation = req.operation
		if g.opts.OnDecision != nil {
			g.opts.OnDecision(d)
		}
		if !d.Allowed {
			g.refuse(w, p, d)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	g.proxy.ServeHTTP(w, r)
}

// caller returns the principal whose access key signed r, or the error
// code and message DynamoDB answers a request without a known key with.
func (g *Gate) caller(r *http.Request) (*Principal, string, string) {
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return nil, "MissingAuthenticationTokenException", "Request is missing Authentication Token"
	}
	key, _, _ := strings.Cut(cred, "/")
	if p := g.principals[key]; p != nil {
		return p, "", ""
	}
	return nil, "UnrecognizedClientException", "The security token included in the request is invalid."
}

// refuse answers a refused request as DynamoDB does.
func (g *Gate) refuse(w http.ResponseWriter, p *Principal, d Decision) {
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", p.ARN(&g.opts.Resources), d.Action, d.Resource, d.Reason)
	g.opts.Logger.Warn("AccessDeniedException", "function", p.Name, "operation", d.Operation, "action", d.Action, "resource", d.Resource, "reason", d.Reason)
	writeError(w, AccessDeniedType, msg)
}

// AccessDeniedType is the __type of DynamoDB's answer to a request IAM
// refuses (HTTP 400); the SDK reports it as error code AccessDeniedException.
const AccessDeniedType = "com.amazon.coral.service#AccessDeniedException"

// writeError writes an error as DynamoDB does: HTTP 400, a JSON body of
// __type and Message, with a request ID and the body's CRC32.
func writeError(w http.ResponseWriter, typ, message string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"Message"`
	}{typ, message})
	var id [16]byte
	_, _ = rand.Read(id[:])
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Requestid", hex.EncodeToString(id[:]))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}

// partitionKey implements schemas with DescribeTable, once per table.
func (g *Gate) partitionKey(ctx context.Context, table, index string) (string, error) {
	g.mu.Lock()
	k, ok := g.keys[table]
	g.mu.Unlock()
	if !ok {
		out, err := g.describe.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			// No such table (yet): DynamoDB answers that, after IAM.
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("key schema of %s: %w", table, err)
		}
		k = tableKeys{table: hashKey(out.Table.KeySchema), indexes: map[string]string{}}
		for _, ix := range out.Table.LocalSecondaryIndexes {
			k.indexes[aws.ToString(ix.IndexName)] = hashKey(ix.KeySchema)
		}
		for _, ix := range out.Table.GlobalSecondaryIndexes {
			if pk := hashKey(ix.KeySchema); pk == k.table {
				k.indexes[aws.ToString(ix.IndexName)] = pk
			} else {
				k.indexes[aws.ToString(ix.IndexName)] = ""
			}
		}
		g.mu.Lock()
		g.keys[table] = k
		g.mu.Unlock()
	}
	if index != "" {
		return k.indexes[index], nil
	}
	return k.table, nil
}

func hashKey(schema []types.KeySchemaElement) string {
	for _, e := range schema {
		if e.KeyType == types.KeyTypeHash {
			return aws.ToString(e.AttributeName)
		}
	}
	return ""
}
