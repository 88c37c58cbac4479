package samtemplate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Role is the IAM role a function runs with, as the template declares it:
// what tools/iamgate enforces in make local, and what the tests compare
// with what each function's code calls.
type Role struct {
	// LogicalID is the role's resource: the one the function's Role names,
	// or the one SAM generates (<Function>Role) when it names none.
	LogicalID string
	// Generated reports that SAM generates the role from the function's
	// Policies, with ManagedPolicyArns below.
	Generated bool
	// Statements are the statements of every policy the role has, in the
	// template's order: its inline Policies; the AWS::IAM::ManagedPolicy
	// resources it names in ManagedPolicyArns; the AWS::IAM::RolePolicy,
	// AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources that name it
	// (RoleName, Roles). What depends on parameters only is resolved for the
	// template's values (Fn::If, Fn::FindInMap, AWS::NoValue, Ref to a
	// parameter, a parameter in Fn::Sub); the rest stays as written, in the
	// long form ({"Fn::GetAtt": "CountersTable.Arn"} for the YAML's
	// !GetAtt CountersTable.Arn).
	Statements []Statement
	// ManagedPolicyArns are the managed policies the role has that the
	// template does not declare (an AWS managed policy, say), as written.
	ManagedPolicyArns []any
	// Tags are the role's tags, by key (aws:PrincipalTag/<key>).
	Tags map[string]string
}

// Statement is one statement of an IAM policy document, decoded JSON.
type Statement map[string]any

// basicExecutionRole is the managed policy SAM attaches to every role it
// generates for a function.
const basicExecutionRole = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

// role returns the role of the function id (its resource raw, with
// Fn::ForEach expanded).
func (t *Template) role(id string) (Role, error) {
	e := t.evaluator()
	resources, _ := t.Raw["Resources"].(map[string]any)
	fn, _ := resources[id].(map[string]any)
	props, _ := fn["Properties"].(map[string]any)
	if props["Role"] == nil {
		return t.generatedRole(id, props, e)
	}
	roleValue, err := e.resolve(props["Role"])
	if err != nil {
		return Role{}, fmt.Errorf("Role: %w", err)
	}
	roleID, ok := getAtt(roleValue, "Arn")
	if !ok {
		return Role{}, fmt.Errorf("Role %v: not !GetAtt <a role of the template>.Arn", props["Role"])
	}
	res, _ := resources[roleID].(map[string]any)
	if res["Type"] != "AWS::IAM::Role" {
		return Role{}, fmt.Errorf("Role %s: not an AWS::IAM::Role of the template", roleID)
	}
	if props["Policies"] != nil {
		// SAM ignores a function's Policies when it names a Role.
		return Role{}, fmt.Errorf("both Role and Policies: SAM ignores Policies when a function names its Role")
	}
	r := Role{LogicalID: roleID, Tags: map[string]string{}}
	rp, _ := res["Properties"].(map[string]any)
	resolved, err := e.resolve(rp)
	if err != nil {
		return Role{}, fmt.Errorf("%s: %w", roleID, err)
	}
	rp, _ = resolved.(map[string]any)
	tags, _ := rp["Tags"].([]any)
	for _, tag := range tags {
		kv, _ := tag.(map[string]any)
		k, kok := kv["Key"].(string)
		v, vok := kv["Value"].(string)
		if !kok || !vok {
			return Role{}, fmt.Errorf("%s: tag %v is not a literal key and value", roleID, tag)
		}
		r.Tags[k] = v
	}
	inline, _ := rp["Policies"].([]any)
	for i, p := range inline {
		pm, _ := p.(map[string]any)
		sts, err := statements(pm["PolicyDocument"])
		if err != nil {
			return Role{}, fmt.Errorf("%s: Policies[%d]: %w", roleID, i, err)
		}
		r.Statements = append(r.Statements, sts...)
	}
	managed, _ := rp["ManagedPolicyArns"].([]any)
	for _, arn := range managed {
		m, _ := arn.(map[string]any)
		if ref, ok := m["Ref"].(string); ok {
			if pol, _ := resources[ref].(map[string]any); pol["Type"] == "AWS::IAM::ManagedPolicy" {
				sts, err := t.policyResource(ref, e)
				if err != nil {
					return Role{}, err
				}
				r.Statements = append(r.Statements, sts...)
				continue
			}
		}
		r.ManagedPolicyArns = append(r.ManagedPolicyArns, arn)
	}
	attached, err := t.attachedPolicies(roleID, e)
	if err != nil {
		return Role{}, err
	}
	r.Statements = append(r.Statements, attached...)
	return r, nil
}

// generatedRole is the role SAM generates for a function without a Role:
// its Policies (inline policy documents only: a SAM policy template or a
// managed policy name would hide what it grants), and
// AWSLambdaBasicExecutionRole.
func (t *Template) generatedRole(id string, props map[string]any, e *evaluator) (Role, error) {
	r := Role{LogicalID: id + "Role", Generated: true, ManagedPolicyArns: []any{basicExecutionRole}, Tags: map[string]string{}}
	policies, err := e.resolve(props["Policies"])
	if err != nil {
		return Role{}, fmt.Errorf("its Policies: %w", err)
	}
	var docs []any
	switch p := policies.(type) {
	case nil:
	case []any:
		docs = p
	default:
		docs = []any{p}
	}
	for i, d := range docs {
		sts, err := statements(d)
		if err != nil {
			return Role{}, fmt.Errorf("policy %d: %w", i, err)
		}
		r.Statements = append(r.Statements, sts...)
	}
	return r, nil
}

// attachedPolicies returns the statements of the policy resources that
// name the role roleID: an AWS::IAM::RolePolicy's RoleName, the Roles of an
// AWS::IAM::Policy or AWS::IAM::ManagedPolicy; by logical ID.
func (t *Template) attachedPolicies(roleID string, e *evaluator) ([]Statement, error) {
	resources, _ := t.Raw["Resources"].(map[string]any)
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []Statement
	for _, id := range ids {
		res, _ := resources[id].(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		var names []any
		switch res["Type"] {
		case "AWS::IAM::RolePolicy":
			names = []any{props["RoleName"]}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			names, _ = props["Roles"].([]any)
		default:
			continue
		}
		for _, n := range names {
			m, _ := n.(map[string]any)
			if ref, _ := m["Ref"].(string); ref == roleID {
				sts, err := t.policyResource(id, e)
				if err != nil {
					return nil, err
				}
				out = append(out, sts...)
				break
			}
		}
	}
	return out, nil
}

// policyResource returns the statements of the policy resource id.
func (t *Template) policyResource(id string, e *evaluator) ([]Statement, error) {
	res, _ := t.Raw["Resources"].(map[string]any)[id].(map[string]any)
	if res["Condition"] != nil {
		return nil, fmt.Errorf("%s: a policy under a Condition is not read here", id)
	}
	props, _ := res["Properties"].(map[string]any)
	doc, err := e.resolve(props["PolicyDocument"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	sts, err := statements(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	return sts, nil
}

// statements returns the statements of a resolved policy document.
func statements(doc any) ([]Statement, error) {
	d, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy document %v: not an inline policy document", doc)
	}
	var list []any
	switch s := d["Statement"].(type) {
	case []any:
		list = s
	case map[string]any:
		list = []any{s}
	default:
		return nil, fmt.Errorf("policy document without a Statement")
	}
	out := make([]Statement, 0, len(list))
	for _, s := range list {
		m, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("statement %v: not an object", s)
		}
		out = append(out, Statement(m))
	}
	return out, nil
}

// getAtt returns X for {"Fn::GetAtt": [X, attr]} or {"Fn::GetAtt": "X.attr"}.
func getAtt(v any, attr string) (string, bool) {
	m, _ := v.(map[string]any)
	switch g := m["Fn::GetAtt"].(type) {
	case []any:
		if len(g) == 2 && g[1] == attr {
			id, ok := g[0].(string)
			return id, ok
		}
	case string:
		return strings.CutSuffix(g, "."+attr)
	}
	return "", false
}

// Resolve returns v, a part of Raw, with what depends on parameters only
// resolved for the template's parameter values, as in Role.Statements
// (e.g. TABLE_NAME's !If [Regional, !Ref CountersTable, ...]).
func (t *Template) Resolve(v any) (any, error) {
	return t.evaluator().resolve(v)
}

// evaluator returns an evaluator of the template's conditions and values
// under its parameters.
func (t *Template) evaluator() *evaluator {
	return &evaluator{raw: t.Raw, params: t.params, done: map[string]bool{}, busy: map[string]bool{}}
}

var subVariable = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// resolve returns v with what depends on parameters only resolved: Fn::If
// (its condition evaluated), Fn::FindInMap (of literal keys or Refs to
// parameters), Ref to a parameter, a parameter's ${Name} in an Fn::Sub
// string, Fn::Select and Fn::Split of those; values that are {"Ref": "AWS::NoValue"} are dropped from maps
// and lists. Anything else is kept as it is.
func (e *evaluator) resolve(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Fn::If":
					args, _ := arg.([]any)
					name, _ := args[0].(string)
					if len(args) != 3 || name == "" {
						return nil, fmt.Errorf("Fn::If %v: want [condition, then, else]", arg)
					}
					holds, err := e.condition(name)
					if err != nil {
						return nil, err
					}
					if holds {
						return e.resolve(args[1])
					}
					return e.resolve(args[2])
				case "Fn::FindInMap":
					return e.findInMap(arg)
				case "Fn::Select", "Fn::Split":
					if r, err := e.value(v); err == nil { // of parameters (and pseudo parameters given) only
						return r, nil
					}
				case "Ref":
					if name, ok := arg.(string); ok && e.isParameter(name) {
						return e.value(v)
					}
				case "Fn::Sub":
					if s, ok := arg.(string); ok {
						return map[string]any{"Fn::Sub": e.subParameters(s)}, nil
					}
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			r, err := e.resolve(x)
			if err != nil {
				return nil, err
			}
			if !isNoValue(r) {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, x := range v {
			r, err := e.resolve(x)
			if err != nil {
				return nil, err
			}
			if !isNoValue(r) {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func isNoValue(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == "AWS::NoValue"
}

func (e *evaluator) isParameter(name string) bool {
	params, _ := e.raw["Parameters"].(map[string]any)
	_, ok := params[name]
	return ok
}

// subParameters replaces each ${Parameter} of an Fn::Sub string by the
// parameter's value.
func (e *evaluator) subParameters(s string) string {
	return subVariable.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if !e.isParameter(name) {
			return m
		}
		v, err := e.value(map[string]any{"Ref": name})
		if err != nil {
			return m
		}
		return fmt.Sprint(v)
	})
}

// findInMap resolves Fn::FindInMap [Map, TopKey, SecondKey].
func (e *evaluator) findInMap(arg any) (any, error) {
	args, _ := arg.([]any)
	if len(args) != 3 {
		return nil, fmt.Errorf("Fn::FindInMap %v: want [map, top-level key, second-level key]", arg)
	}
	keys := make([]string, 3)
	for i, a := range args {
		r, err := e.resolve(a)
		if err != nil {
			return nil, err
		}
		switch r.(type) {
		case map[string]any, []any:
			return nil, fmt.Errorf("Fn::FindInMap %v: key %v does not resolve to a value", arg, a)
		}
		keys[i] = fmt.Sprint(r)
	}
	mappings, _ := e.raw["Mappings"].(map[string]any)
	m, _ := mappings[keys[0]].(map[string]any)
	top, _ := m[keys[1]].(map[string]any)
	v, ok := top[keys[2]]
	if !ok {
		return nil, fmt.Errorf("Fn::FindInMap: no %s.%s.%s in Mappings", keys[0], keys[1], keys[2])
	}
	return v, nil
}
