package iamgate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Statement is one statement of an IAM identity-based policy, its
// references resolved for the local stack (see Resources).
type Statement struct {
	// Effect is Allow or Deny.
	Effect string
	// Actions are the Action patterns (service:Action, with * and ?); or,
	// for a NotAction statement, NotActions.
	Actions, NotActions []string
	// Resources are the Resource patterns (ARNs, with * and ?); or, for a
	// NotResource statement, NotResources.
	Resources, NotResources []string
	// Conditions must all hold for the statement to apply.
	Conditions []Condition
	// Problem, when set, is what the gate does not understand in the
	// statement. A request the statement may apply to is refused: the gate
	// never guesses what IAM would decide.
	Problem string
	// Raw is the statement as the template writes it.
	Raw map[string]any
}

// Condition is one condition key under one operator of a statement's
// Condition block: Operator (with its ForAllValues: or ForAnyValue: prefix
// and IfExists suffix, as written) applied to Key and Values.
type Condition struct {
	Operator string
	Key      string
	Values   []string

	op       string // the base operator: StringEquals, StringLike, Null...
	set      string // "", "forallvalues" or "foranyvalue"
	ifExists bool
}

// conditionKeys are the condition keys the gate knows how to fill in from
// a request (request.go) or its principal; a statement that uses another
// is not understood. Lower case: IAM compares key names case-insensitively.
var conditionKeys = map[string]bool{
	keyLeadingKeys:        true,
	keyEnclosingOperation: true,
}

const (
	keyLeadingKeys        = "dynamodb:leadingkeys"
	keyEnclosingOperation = "dynamodb:enclosingoperation"
	keyPrincipalTagPrefix = "aws:principaltag/"
)

// stringOperators are the string condition operators the gate evaluates,
// by lower-case name: whether they negate, and how they compare.
var stringOperators = map[string]struct {
	negated bool
	match   func(value, pattern string) bool
}{
	"stringequals":              {false, func(v, p string) bool { return v == p }},
	"stringnotequals":           {true, func(v, p string) bool { return v == p }},
	"stringequalsignorecase":    {false, strings.EqualFold},
	"stringnotequalsignorecase": {true, strings.EqualFold},
	"stringlike":                {false, func(v, p string) bool { return glob(p, v) }},
	"stringnotlike":             {true, func(v, p string) bool { return glob(p, v) }},
}

// parseCondition reads one operator's block of a Condition element.
func parseCondition(operator string, block any, r *Resources) ([]Condition, string) {
	op := strings.ToLower(operator)
	c := Condition{Operator: operator}
	if rest, ok := strings.CutPrefix(op, "forallvalues:"); ok {
		c.set, op = "forallvalues", rest
	} else if rest, ok := strings.CutPrefix(op, "foranyvalue:"); ok {
		c.set, op = "foranyvalue", rest
	}
	if rest, ok := strings.CutSuffix(op, "ifexists"); ok && op != "null" {
		c.ifExists, op = true, rest
	}
	if _, ok := stringOperators[op]; !ok && (op != "null" || c.set != "" || c.ifExists) {
		return nil, fmt.Sprintf("condition operator %s", operator)
	}
	c.op = op
	keys, ok := block.(map[string]any)
	if !ok {
		return nil, fmt.Sprintf("condition %s: not a map of keys to values", operator)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []Condition
	for _, key := range names {
		lk := strings.ToLower(key)
		if !conditionKeys[lk] && !strings.HasPrefix(lk, keyPrincipalTagPrefix) {
			return nil, fmt.Sprintf("condition key %s", key)
		}
		var raw []any
		switch v := keys[key].(type) {
		case []any:
			raw = v
		default:
			raw = []any{v}
		}
		cc := c
		cc.Key = lk
		for _, v := range raw {
			var s string
			switch v := v.(type) {
			case bool:
				s = fmt.Sprint(v)
			default:
				var err error
				if s, err = r.resolve(v); err != nil {
					return nil, fmt.Sprintf("condition %s %s: %v", operator, key, err)
				}
			}
			if strings.Contains(s, "${") {
				return nil, fmt.Sprintf("policy variable in condition %s %s: %s", operator, key, s)
			}
			cc.Values = append(cc.Values, s)
		}
		if op == "null" && (len(cc.Values) != 1 || (cc.Values[0] != "true" && cc.Values[0] != "false")) {
			return nil, fmt.Sprintf("condition Null %s: want true or false", key)
		}
		out = append(out, cc)
	}
	return out, ""
}

// holds evaluates the condition against the values of its key in a
// request (present false: the key is not in the request's context), as IAM
// does: a missing key matches no positive operator and every negated one,
// IfExists makes it match; ForAllValues holds for no values at all,
// ForAnyValue never does.
func (c Condition) holds(values []string, present bool) bool {
	if c.op == "null" {
		return (c.Values[0] == "true") != present
	}
	so := stringOperators[c.op]
	matchesAny := func(v string) bool {
		for _, p := range c.Values {
			if so.match(v, p) {
				return true
			}
		}
		return false
	}
	ok := func(v string) bool { return matchesAny(v) != so.negated }
	switch c.set {
	case "forallvalues":
		for _, v := range values {
			if !ok(v) {
				return false
			}
		}
		return true
	case "foranyvalue":
		if !present {
			return c.ifExists
		}
		return slices.ContainsFunc(values, ok)
	}
	if !present {
		return c.ifExists || so.negated
	}
	// A single-valued operator on a key with one value (each item of a
	// batch or transaction is evaluated on its own: one leading key).
	return len(values) == 1 && ok(values[0])
}

// ParseStatement reads a policy statement as the template writes it
// (decoded JSON, intrinsic functions in the long form), resolving its
// references with r; see parseStatement.
func ParseStatement(raw map[string]any, r Resources) Statement { return parseStatement(raw, &r) }

// parseStatement reads a statement of the template, resolving its
// references with r. What it cannot read sets Problem rather than failing:
// the statement then refuses the requests it may apply to.
func parseStatement(raw map[string]any, r *Resources) Statement {
	st := Statement{Raw: raw}
	for k := range raw {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			st.Problem = fmt.Sprintf("statement element %s", k)
		}
	}
	st.Effect, _ = raw["Effect"].(string)
	if st.Effect != "Allow" && st.Effect != "Deny" {
		st.Problem = fmt.Sprintf("Effect %v", raw["Effect"])
	}
	var err error
	if st.Actions, err = stringList(raw["Action"], nil); err != nil {
		st.Problem = "Action: " + err.Error()
	}
	if st.NotActions, err = stringList(raw["NotAction"], nil); err != nil {
		st.Problem = "NotAction: " + err.Error()
	}
	if (st.Actions == nil) == (st.NotActions == nil) {
		st.Actions, st.NotActions = []string{"*"}, nil // refuse whatever it may be about
		if st.Problem == "" {
			st.Problem = "a statement needs exactly one of Action and NotAction"
		}
	}
	if st.Problem != "" {
		return st
	}
	if raw["Condition"] != nil {
		block, ok := raw["Condition"].(map[string]any)
		if !ok {
			st.Problem = "Condition: not a map"
			return st
		}
		ops := make([]string, 0, len(block))
		for op := range block {
			ops = append(ops, op)
		}
		sort.Strings(ops)
		for _, op := range ops {
			cs, problem := parseCondition(op, block[op], r)
			if problem != "" {
				st.Problem = problem
				return st
			}
			st.Conditions = append(st.Conditions, cs...)
		}
	}
	if !st.aboutDynamoDB() {
		return st // its resources (a queue, a log group) are not the gate's business
	}
	if st.Resources, err = stringList(raw["Resource"], r); err != nil {
		st.Problem = "Resource: " + err.Error()
		return st
	}
	if st.NotResources, err = stringList(raw["NotResource"], r); err != nil {
		st.Problem = "NotResource: " + err.Error()
		return st
	}
	if (st.Resources == nil) == (st.NotResources == nil) {
		st.Problem = "a statement needs exactly one of Resource and NotResource"
		return st
	}
	for _, p := range append(slices.Clone(st.Resources), st.NotResources...) {
		if strings.Contains(p, "${") {
			st.Problem = "policy variable in Resource " + p
			return st
		}
	}
	return st
}

// stringList reads an Action or Resource element: a string or a list of
// them, each resolved with r (nil: literal strings only).
func stringList(v any, r *Resources) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("empty")
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
			continue
		}
		if r == nil {
			return nil, fmt.Errorf("%v is not a string", x)
		}
		s, err := r.resolve(x)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Applicable returns the statements that apply to the principal, whatever
// the request: those whose conditions on the principal (its tags) hold,
// without those conditions.
func (p *Principal) Applicable() []Statement {
	var out []Statement
	for _, st := range p.Statements {
		if !p.Applies(st) {
			continue
		}
		var rest []Condition
		for _, c := range st.Conditions {
			if !strings.HasPrefix(c.Key, keyPrincipalTagPrefix) {
				rest = append(rest, c)
			}
		}
		st.Conditions = rest
		out = append(out, st)
	}
	return out
}

// Applies reports whether the statement's conditions on the principal
// (its tags) hold: whether it may apply to the principal's requests.
func (p *Principal) Applies(st Statement) bool {
	for _, c := range st.Conditions {
		tag, ok := strings.CutPrefix(c.Key, keyPrincipalTagPrefix)
		if !ok {
			continue
		}
		var values []string
		v, present := p.tag(tag)
		if present {
			values = []string{v}
		}
		if !c.holds(values, present) {
			return false
		}
	}
	return true
}

// AboutDynamoDB reports whether the statement may apply to some DynamoDB
// action the gate knows.
func (st Statement) AboutDynamoDB() bool { return st.aboutDynamoDB() }

// aboutDynamoDB reports whether the statement may apply to some DynamoDB
// action the gate knows: only those statements can decide its requests.
func (st Statement) aboutDynamoDB() bool {
	for _, a := range knownActions {
		if st.matchesAction(a) {
			return true
		}
	}
	return false
}

// MatchesAction reports whether the statement's Action (or NotAction)
// covers action. Actions compare case-insensitively.
func (st Statement) MatchesAction(action string) bool { return st.matchesAction(action) }

func (st Statement) matchesAction(action string) bool {
	if st.NotActions != nil {
		return !slices.ContainsFunc(st.NotActions, func(p string) bool { return globFold(p, action) })
	}
	return slices.ContainsFunc(st.Actions, func(p string) bool { return globFold(p, action) })
}

// matchesResource reports whether the statement's Resource (or
// NotResource) covers resource. ARNs compare case-sensitively.
func (st Statement) matchesResource(resource string) bool {
	if st.NotResources != nil {
		return !slices.ContainsFunc(st.NotResources, func(p string) bool { return glob(p, resource) })
	}
	return slices.ContainsFunc(st.Resources, func(p string) bool { return glob(p, resource) })
}

// glob reports whether s matches pattern, in which * matches any run of
// characters and ? any one character, as in IAM's Action, Resource and
// StringLike.
func glob(pattern, s string) bool {
	// Iterative matching with backtracking to the last star.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func globFold(pattern, s string) bool { return glob(strings.ToLower(pattern), strings.ToLower(s)) }
