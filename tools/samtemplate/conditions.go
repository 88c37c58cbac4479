package samtemplate

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// pseudoDefaults are the values pseudo parameters take unless overridden.
var pseudoDefaults = map[string]any{
	"AWS::Region":    "us-east-1",
	"AWS::AccountId": "123456789012",
	"AWS::StackName": "hitcounter",
	"AWS::Partition": "aws",
}

// resolveConditions replaces each entry of raw's Conditions section with its
// boolean value under params (goformation's own condition evaluation
// replaces every resource that has a Condition attribute by a boolean).
func resolveConditions(raw map[string]any, params map[string]any) error {
	conds, _ := raw["Conditions"].(map[string]any)
	if len(conds) == 0 {
		return nil
	}
	e := evaluator{raw: raw, params: params, done: map[string]bool{}, busy: map[string]bool{}}
	values := map[string]any{}
	for name := range conds {
		v, err := e.condition(name)
		if err != nil {
			return err
		}
		values[name] = v
	}
	raw["Conditions"] = values
	return nil
}

type evaluator struct {
	raw    map[string]any
	params map[string]any
	done   map[string]bool
	busy   map[string]bool
}

func (e *evaluator) condition(name string) (bool, error) {
	if v, ok := e.done[name]; ok {
		return v, nil
	}
	if e.busy[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	e.busy[name] = true
	conds, _ := e.raw["Conditions"].(map[string]any)
	expr, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := e.boolean(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.done[name] = v
	return v, nil
}

func (e *evaluator) boolean(expr any) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition function: %v", expr)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return e.condition(name)
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes one condition")
			}
			v, err := e.boolean(args[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				v, err := e.boolean(a)
				if err != nil {
					return false, err
				}
				if v != and {
					return v, nil
				}
			}
			return and, nil
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes two values")
			}
			a, err := e.value(args[0])
			if err != nil {
				return false, err
			}
			b, err := e.value(args[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		}
		return false, fmt.Errorf("unsupported condition function %s", fn)
	}
	panic("unreachable")
}

// value resolves a literal, a Ref to a parameter (or pseudo parameter),
// or an Fn::Select of an Fn::Split of those or of an Fn::Sub of
// parameters (a list parameter's item: ReplicaRegions).
func (e *evaluator) value(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	if len(m) == 1 {
		for fn, arg := range m {
			args, _ := arg.([]any)
			switch fn {
			case "Fn::Sub":
				s, ok := arg.(string)
				if !ok {
					return nil, fmt.Errorf("unsupported Fn::Sub in a condition: %v", arg)
				}
				var err error
				out := subVariable.ReplaceAllStringFunc(s, func(ref string) string {
					p, perr := e.value(map[string]any{"Ref": ref[2 : len(ref)-1]})
					if perr != nil {
						err = perr
					}
					return fmt.Sprint(p)
				})
				return out, err
			case "Fn::Split":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Split takes a delimiter and a string")
				}
				s, err := e.value(args[1])
				if err != nil {
					return nil, err
				}
				var items []any
				for _, item := range strings.Split(fmt.Sprint(s), fmt.Sprint(args[0])) {
					items = append(items, item)
				}
				return items, nil
			case "Fn::Select":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Select takes an index and a list")
				}
				i, err := strconv.Atoi(fmt.Sprint(args[0]))
				if err != nil {
					return nil, fmt.Errorf("Fn::Select index %v: %w", args[0], err)
				}
				list, err := e.value(args[1])
				if err != nil {
					return nil, err
				}
				items, _ := list.([]any)
				if i < 0 || i >= len(items) {
					return nil, fmt.Errorf("Fn::Select index %d of %d items", i, len(items))
				}
				return items[i], nil
			}
		}
	}
	name, ok := m["Ref"].(string)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("unsupported value in a condition: %v", v)
	}
	if p, ok := e.params[name]; ok {
		return p, nil
	}
	if p, ok := pseudoDefaults[name]; ok {
		return p, nil
	}
	params, _ := e.raw["Parameters"].(map[string]any)
	p, ok := params[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no parameter %s (Ref in a condition)", name)
	}
	def, ok := p["Default"]
	if !ok {
		return nil, fmt.Errorf("parameter %s has no default and no value", name)
	}
	return def, nil
}

// deepCopy copies a decoded JSON value.
func deepCopy(v map[string]any) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // decoded JSON always encodes
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		panic(fmt.Sprint("samtemplate: copy: ", err))
	}
	return out
}

// Conditions evaluates every condition of a template (decoded JSON, long
// form) under params, which may also set pseudo parameters such as
// AWS::Region; parameters absent from params take their defaults.
func Conditions(template map[string]any, params map[string]any) (map[string]bool, error) {
	t := maps.Clone(template) // resolveConditions replaces only the Conditions section
	if err := resolveConditions(t, params); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	out := map[string]bool{}
	conds, _ := t["Conditions"].(map[string]any)
	for name, v := range conds {
		out[name], _ = v.(bool)
	}
	return out, nil
}
