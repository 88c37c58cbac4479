package iamgate

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/httpapi"
	"github.com/hitcounter/hitcounter/tools/samtemplate"
)

// routeNeeds is what each route's code calls (internal/dynamostore,
// internal/history), as grants: "Action Table" for an action on any key of
// the table, "Action Table c#" for keys of that class only (keyClasses: c#
// a counter's own item, c#*# a hot counter's shard, i# an idempotency
// record, s# a day's salt of unique visitors), "Action Table/index" for the table's listing index. A counter's
// writes reach its shards as its own item (internal/dynamostore's
// layout.go): a set or delete of a sharded counter changes every item, an
// increment the one it picks, growing (PutItem) a hot counter's shards. A
// keyed write (Idempotency-Key)
// reads the counter, then writes one TransactWriteItems, which IAM
// authorizes item by item with each item's action: the change (a Put,
// Update or Delete of the counter, or a ConditionCheck of it for a write it
// refuses) and a Put of the record.
var routeNeeds = map[string][]string{
	httpapi.RouteHealth: {"GetItem CountersTable"}, // Ping reads a key that never exists
	// PutItem of the counter; keyed: its read, the Put (or the
	// ConditionCheck of one that exists) and the record.
	// A create with shards puts them too.
	httpapi.RouteCreate: {"GetItem CountersTable", "PutItem CountersTable c#", "PutItem CountersTable c#*#",
		"ConditionCheckItem CountersTable c#", "ConditionCheckItem CountersTable c#*#", "PutItem CountersTable i#"},
	// UpdateItem; keyed: the read, a Put (a new counter) or an Update, the
	// record; Puts of the shards asked for.
	httpapi.RouteSet: {"GetItem CountersTable", "UpdateItem CountersTable c#", "UpdateItem CountersTable c#*#",
		"PutItem CountersTable c#", "PutItem CountersTable c#*#", "ConditionCheckItem CountersTable c#", "ConditionCheckItem CountersTable c#*#",
		"PutItem CountersTable i#"},
	// UpdateItem; keyed: the read, the Update (or the ConditionCheck of a
	// refused one: missing, out of range), the record; a hot counter's
	// growth.
	// With unique visitors, the first view of a day makes the day's salt.
	httpapi.RouteIncrement: append(slices.Clone(incrementNeeds), "PutItem CountersTable s#"),
	// PATCH changes a count by any amount: as an increment.
	httpapi.RouteAdjust: incrementNeeds,
	httpapi.RouteDelete: {"GetItem CountersTable", "DeleteItem CountersTable c#", "DeleteItem CountersTable c#*#",
		"ConditionCheckItem CountersTable c#", "ConditionCheckItem CountersTable c#*#", "PutItem CountersTable i#"},
	// A Scan of the listing index, a batch read of the page's counters, a
	// TransactGetItems (GetItem of each item) of each sharded one; with
	// stats, one Query of the stats table per counter on the page.
	httpapi.RouteList: {"Scan CountersTable/index", "BatchGetItem CountersTable", "GetItem CountersTable", "Query StatsTable"},
	httpapi.RouteGet:  {"GetItem CountersTable"},
	// The counter (404; its creation time names its history), then one
	// Query of the stats table.
	httpapi.RouteStats: {"GetItem CountersTable", "Query StatsTable"},
	// A badge of unique visitors (metric=uniques) reads today's bucket.
	httpapi.RouteBadge:   {"GetItem CountersTable", "Query StatsTable"},
	httpapi.RouteShields: {"GetItem CountersTable", "Query StatsTable"},
	// GET increments (UpdateItem), HEAD reads (issue 20's finding 1); with
	// HitCreatesCounters, a missing counter is created (PutItem): hitNeeds.
	// A hot counter's growth puts shards; a hit out of a sharded counter's
	// range is refused by a transaction's ConditionChecks.
	httpapi.RouteHit: {"GetItem CountersTable", "UpdateItem CountersTable c#", "UpdateItem CountersTable c#*#",
		"PutItem CountersTable c#*#", "ConditionCheckItem CountersTable c#", "ConditionCheckItem CountersTable c#*#",
		"PutItem CountersTable s#", "Query StatsTable"},
	// The web files touch no table.
	httpapi.RouteDashboard: nil, httpapi.RouteDashboardScript: nil, httpapi.RouteDashboardStyle: nil, httpapi.RouteEmbed: nil,
}

// incrementNeeds is what an increment calls.
var incrementNeeds = []string{"GetItem CountersTable", "UpdateItem CountersTable c#", "UpdateItem CountersTable c#*#",
	"PutItem CountersTable c#*#", "ConditionCheckItem CountersTable c#", "ConditionCheckItem CountersTable c#*#", "PutItem CountersTable i#"}

// hitCreates is what the hit route needs more with HitCreatesCounters=true.
var hitCreates = []string{"PutItem CountersTable c#"}

// aggregateNeeds is what the stream's consumer calls: its buckets in the
// stats table (UpdateItem; Query and BatchWriteItem to delete a deleted
// counter's), and the counters table's stream as its event source mapping
// reads it, with its role.
var aggregateNeeds = []string{"Query StatsTable", "UpdateItem StatsTable", "BatchWriteItem StatsTable",
	"DescribeStream CountersTable/stream", "GetShardIterator CountersTable/stream", "GetRecords CountersTable/stream", "ListStreams *"}

// keyClasses are the partition keys the grants are tried with, by label:
// a counter's own item, a shard of a hot counter, an idempotency record,
// a day's salt, the generation a delete ended (with replica regions),
// anything else.
var keyClasses = []keyClass{{"c#", "c#x"}, {"c#*#", "c#x#1"}, {"i#", "i#x"}, {"s#", "s#2026-12-03"}, {"g#", "g#x"}, {"zz", "zzx"}}

// keyClass is a class of partition keys (label, as in routeNeeds) and a
// key of it.
type keyClass struct{ label, key string }

// keyed are the actions IAM gives dynamodb:LeadingKeys.
var keyed = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
	"dynamodb:ConditionCheckItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"}

// accountActions are the actions that take no resource (IAM's "*").
var accountActions = []string{"dynamodb:ListStreams", "dynamodb:ListTables"}

// grantsOf returns what p may do to the stack's tables, streams and the
// account (resource "*"), over every action the gate knows, each key class
// tried for the actions with keys; in the form of routeNeeds, sorted.
func grantsOf(p *Principal, res *Resources, tables []string) []string {
	type target struct{ label, arn string }
	var targets []target
	for _, id := range tables {
		t := res.Tables[id]
		targets = append(targets, target{id, t.ARN}, target{id + "/stream", t.StreamARN}, target{id + "/index", t.ARN + "/index/counters"})
	}
	targets = append(targets, target{"*", "*"})
	var out []string
	for _, action := range knownActions {
		for _, tg := range targets {
			if (tg.arn == "*") != slices.Contains(accountActions, action) {
				continue // an action takes a resource, or none ("*")
			}
			var allowed []string
			classes := []keyClass{{}} // no keys
			if slices.Contains(keyed, action) {
				classes = keyClasses
			}
			for _, k := range classes {
				c := check{action: action, resource: tg.arn, keys: map[string][]string{}}
				if k.key != "" {
					c.keys[keyLeadingKeys] = []string{k.key}
				}
				if p.decide(c).Allowed {
					allowed = append(allowed, k.label)
				}
			}
			name := strings.TrimPrefix(action, "dynamodb:") + " " + tg.label
			if len(allowed) == len(classes) {
				out = append(out, name)
				continue
			}
			for _, k := range allowed {
				out = append(out, name+" "+k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// stack loads the template for params, with DynamoDB Local's ARNs for
// its tables (and their streams), and returns its principals.
func stack(t *testing.T, params map[string]any) (*samtemplate.Template, []Principal, *Resources, []string) {
	t.Helper()
	tmpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"), params)
	if err != nil {
		t.Fatal(err)
	}
	res := &Resources{Tables: map[string]Table{}}
	var tables []string
	for id, r := range tmpl.Raw["Resources"].(map[string]any) {
		if r.(map[string]any)["Type"] == "AWS::DynamoDB::Table" {
			arn := TableARN(LocalPartition, LocalRegion, LocalAccountID, strings.ToLower(id))
			res.Tables[id] = Table{Name: strings.ToLower(id), ARN: arn, StreamARN: arn + "/stream/2026-01-01T00:00:00.000"}
			tables = append(tables, id)
		}
	}
	slices.Sort(tables)
	principals, err := Principals(tmpl, *res)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl, principals, res, tables
}

// TestTemplateGrants: each function's role, as the deploy creates it for
// either value of HitCreatesCounters, allows exactly what the routes the
// function serves call (routeNeeds), nothing more: every action the gate
// knows is tried on each table, its stream, an index and "*", with each
// key class. make local's stack tests (tools/localapi) show the same roles
// enough for every route, through the gate.
func TestTemplateGrants(t *testing.T) {
	for _, creates := range []string{"false", "true"} {
		tmpl, principals, res, tables := stack(t, map[string]any{"HitCreatesCounters": creates})
		for i, f := range tmpl.Functions {
			t.Run("HitCreatesCounters="+creates+"/"+f.LogicalID, func(t *testing.T) {
				var want []string
				switch f.LogicalID {
				case "AggregateFunction":
					want = slices.Clone(aggregateNeeds)
				case "ProbeFunction": // GET /health's check, on a schedule, and the salts of unique visitors a day ahead
					want = append(slices.Clone(routeNeeds[httpapi.RouteHealth]), "PutItem CountersTable s#")
				}
				for _, r := range f.Routes {
					name := routeName(t, r)
					needs, ok := routeNeeds[name]
					if !ok {
						t.Fatalf("route %s (%s %s): what does it call? Add it to routeNeeds", name, r.Method, r.Path)
					}
					want = append(want, needs...)
					if name == httpapi.RouteHit && creates == "true" {
						want = append(want, hitCreates...)
					}
				}
				slices.Sort(want)
				want = slices.Compact(want)
				if got := grantsOf(&principals[i], res, tables); !slices.Equal(got, want) {
					t.Errorf("role %s allows\n  %q\nits routes need\n  %q", f.Role.LogicalID, got, want)
				}
			})
		}
	}
}

// routeName returns the name of the httpapi route an Api event serves.
func routeName(t *testing.T, r samtemplate.Route) string {
	t.Helper()
	for _, route := range httpapi.Routes {
		if route.Path == r.Path && slices.Contains(route.Methods(), r.Method) {
			return route.Name
		}
	}
	t.Fatalf("no route serves %s %s", r.Method, r.Path)
	return ""
}

// TestGrantsSeeMissingPermissions: the comparison above fails for a role
// that lacks what a route calls, or has more.
func TestGrantsSeeMissingPermissions(t *testing.T) {
	_, principals, res, tables := stack(t, nil)
	for _, p := range principals {
		if p.Name != "HitFunction" {
			continue
		}
		full := grantsOf(&p, res, tables)
		p.Tags = map[string]string{"function": "Get"} // GetItem only: no UpdateItem
		if got := grantsOf(&p, res, tables); slices.Equal(got, full) || slices.Contains(got, "UpdateItem CountersTable c#") {
			t.Errorf("with another function's tag: %q, as with its own %q", got, full)
		}
		return
	}
	t.Fatal("no HitFunction")
}

// TestPermissionsTable: docs/lambda.md's table of functions says, for
// each, what its role may do, as the template grants it (read through the
// same evaluation as the gate). On a difference it prints the column as it
// should read.
func TestPermissionsTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "lambda.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // function → its permissions column
	row := regexp.MustCompile(`(?m)^\| ([A-Za-z]+Function) \| [^|]* \| ([^|]*) \|`)
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	tmpl, defaults, res, tables := stack(t, nil)
	_, creating, _, _ := stack(t, map[string]any{"HitCreatesCounters": "true"})
	for i, f := range tmpl.Functions {
		base := grantsOf(&defaults[i], res, tables)
		more := slices.DeleteFunc(grantsOf(&creating[i], res, tables), func(g string) bool { return slices.Contains(base, g) })
		want := describe(base, others(&defaults[i]))
		if len(more) > 0 {
			want += "; with `HitCreatesCounters=true` also " + describe(more, nil)
		}
		got, ok := rows[f.LogicalID]
		if !ok {
			t.Errorf("docs/lambda.md: no row for %s (want %q)", f.LogicalID, want)
			continue
		}
		if got != want {
			t.Errorf("docs/lambda.md: %s may do\n  %s\nthe template grants\n  %s", f.LogicalID, got, want)
		}
	}
	if extra := slices.DeleteFunc(slices.Collect(maps.Keys(rows)), func(fn string) bool {
		return slices.ContainsFunc(tmpl.Functions, func(f samtemplate.Function) bool { return f.LogicalID == fn })
	}); len(extra) > 0 {
		t.Errorf("docs/lambda.md lists %q, which the template does not have", extra)
	}
}

// actionOrder is the order of actions in docs/lambda.md's column: reads,
// writes, the stream.
var actionOrder = []string{"GetItem", "Query", "Scan", "BatchGetItem", "ConditionCheckItem", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
	"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}

// describe writes grants (of grantsOf) as docs/lambda.md's column: actions
// grouped by what they apply to, e.g. "GetItem, Scan (CountersTable);
// PutItem (CountersTable, keys `c#*` `i#*`)", then the other services'
// grants (others); "none" for nothing.
func describe(grants, others []string) string {
	type entry struct{ action, on string }
	keys := map[[2]string][]string{} // action, label → key classes
	var entries []entry
	for _, g := range grants {
		f := strings.Fields(g)
		label := strings.NewReplacer("/stream", "'s stream", "/index", "'s listing index").Replace(f[1])
		k := [2]string{f[0], label}
		if _, ok := keys[k]; !ok {
			entries = append(entries, entry{f[0], label})
			keys[k] = nil
		}
		if len(f) == 3 {
			keys[k] = append(keys[k], "`"+f[2]+"*`")
		}
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return rank(a.action) - rank(b.action) })
	var groups []string
	byOn := map[string]int{}
	for _, e := range entries {
		on := e.on
		if ks := keys[[2]string{e.action, e.on}]; len(ks) > 0 {
			if slices.Contains(ks, "`c#*`") { // the pattern covers the shards' keys
				ks = slices.DeleteFunc(ks, func(k string) bool { return k == "`c#*#*`" })
			}
			slices.Sort(ks)
			on += ", keys " + strings.Join(ks, " ")
		}
		if i, ok := byOn[on]; ok {
			groups[i] = strings.Replace(groups[i], " (", ", "+e.action+" (", 1)
			continue
		}
		byOn[on] = len(groups)
		groups = append(groups, e.action+" ("+on+")")
	}
	groups = append(groups, others...)
	if len(groups) == 0 {
		return "none"
	}
	return strings.Join(groups, "; ")
}

func rank(action string) int {
	if i := slices.Index(actionOrder, action); i >= 0 {
		return i
	}
	return len(actionOrder)
}

// others returns what the principal may do beyond DynamoDB and its own
// logs, as "action (resource)": e.g. sqs:SendMessage (AggregateFailureQueue).
func others(p *Principal) []string {
	var out []string
	for _, st := range p.Applicable() {
		if st.aboutDynamoDB() || st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Actions {
			if strings.HasPrefix(a, "logs:") {
				continue
			}
			out = append(out, fmt.Sprintf("%s (%s)", a, strings.Join(resourceNames(st.Raw["Resource"]), ", ")))
		}
	}
	return out
}

// resourceNames names a statement's Resource by the template's resources
// it refers to.
func resourceNames(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, resourceNames(x)...)
		}
		return out
	case map[string]any:
		if ga, ok := v["Fn::GetAtt"]; ok {
			if parts, ok := ga.([]any); ok && len(parts) > 0 {
				return []string{fmt.Sprint(parts[0])}
			}
			s, _ := ga.(string)
			id, _, _ := strings.Cut(s, ".")
			return []string{id}
		}
		if ref, ok := v["Ref"].(string); ok {
			return []string{ref}
		}
	}
	return []string{fmt.Sprint(v)}
}
