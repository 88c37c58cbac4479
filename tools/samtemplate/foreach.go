package samtemplate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// The AWS::LanguageExtensions transform (CloudFormation's, or SAM CLI's
// local copy behind `sam build --language-extensions`) expands each
// Fn::ForEach before the SAM transform reads the template; goformation and
// the Python SAM translator do not. ExpandForEach does it here, once, for
// every tool that reads template.yaml.

const (
	forEachPrefix      = "Fn::ForEach::"
	languageExtensions = "AWS::LanguageExtensions"
	// maxForEachDepth is how deep CloudFormation nests Fn::ForEach loops.
	maxForEachDepth = 5
)

// alphanumeric is what CloudFormation allows in a logical ID, a loop name
// and a loop identifier.
var alphanumeric = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// forEachSections are the sections in which CloudFormation expands
// Fn::ForEach (a resource's properties included); anywhere else it is an
// error.
var forEachSections = []string{"Conditions", "Resources", "Outputs"}

// ExpandForEach returns a copy of template (decoded JSON, long form) in
// which every Fn::ForEach is expanded as AWS::LanguageExtensions expands it:
//
//	"Fn::ForEach::Loop": [Identifier, Collection, {OutputKey: OutputValue}]
//
// becomes one OutputKey: OutputValue entry per item of Collection (a list
// of strings, or a Ref to a CommaDelimitedList parameter, whose value is
// taken from params or its default), in which ${Identifier} is replaced by
// the item, &{Identifier} by the item without its non-alphanumeric
// characters, and {"Ref": Identifier} by the item itself; an Fn::Sub left
// without variables becomes its string, so that a Ref or Fn::GetAtt whose
// name is given by one, as in {"Ref": {"Fn::Sub": "${Name}Function"}},
// names that resource directly. Loops nest (five deep at most) and may
// appear in the Conditions, Resources (properties included) and Outputs
// sections.
//
// CloudFormation's rules for the loop are enforced: a loop name is
// alphanumeric, unique, and no parameter's or resource's name; an
// identifier is alphanumeric and shadows no parameter and no enclosing
// loop's identifier; each OutputKey contains ${Identifier} or
// &{Identifier}; an expansion yields alphanumeric logical IDs and never a
// key that is already there. A template without Fn::ForEach comes back
// unchanged (a copy).
func ExpandForEach(template map[string]any, params map[string]any) (map[string]any, error) {
	out := deepCopy(template)
	x := expander{template: out, params: params}
	for name, section := range out {
		if slices.Contains(forEachSections, name) {
			continue
		}
		if path := findForEach(section, name); path != "" {
			return nil, fmt.Errorf("samtemplate: %s: Fn::ForEach is not allowed in the %s section", path, name)
		}
	}
	if err := x.checkLoopNames(); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	found := false
	for _, name := range forEachSections {
		section, ok := out[name].(map[string]any)
		if !ok || findForEach(section, name) == "" {
			continue
		}
		if !found && !x.hasTransform() {
			return nil, fmt.Errorf("samtemplate: Fn::ForEach needs the %s transform", languageExtensions)
		}
		found = true
		expanded, err := x.expandTree(section, name, nil)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: %w", err)
		}
		for key := range expanded.(map[string]any) {
			if _, was := section[key]; !was && !alphanumeric.MatchString(key) {
				return nil, fmt.Errorf("samtemplate: %s: Fn::ForEach made the logical ID %q, which is not alphanumeric (&{Identifier} drops the other characters)", name, key)
			}
		}
		out[name] = expanded
	}
	return out, nil
}

// expander expands the loops of one template.
type expander struct {
	template map[string]any // the copy being expanded (Parameters, Resources for the name checks)
	params   map[string]any
}

// checkLoopNames checks the names of the loops as written (a nested loop
// once, however many times its enclosing loop repeats it): alphanumeric,
// unique in the template, and no parameter's or resource's name.
func (x *expander) checkLoopNames() error {
	seen := map[string]string{} // loop name -> path
	var walk func(v any, path string) error
	walk = func(v any, path string) error {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				p := path + "/" + k
				if name, ok := strings.CutPrefix(k, forEachPrefix); ok {
					if !alphanumeric.MatchString(name) {
						return fmt.Errorf("%s: the loop name %q is not alphanumeric", p, name)
					}
					if prev, dup := seen[name]; dup {
						return fmt.Errorf("%s: a second loop named %s (the first is %s)", p, name, prev)
					}
					seen[name] = p
					for _, section := range []string{"Parameters", "Resources"} {
						if m, _ := x.template[section].(map[string]any); m[name] != nil {
							return fmt.Errorf("%s: the loop name %s is also a name in %s", p, name, section)
						}
					}
				}
				if err := walk(v[k], p); err != nil {
					return err
				}
			}
		case []any:
			for i, val := range v {
				if err := walk(val, fmt.Sprintf("%s/%d", path, i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, name := range forEachSections {
		if err := walk(x.template[name], name); err != nil {
			return err
		}
	}
	return nil
}

func (x *expander) hasTransform() bool {
	switch t := x.template["Transform"].(type) {
	case string:
		return t == languageExtensions
	case []any:
		return slices.Contains(t, any(languageExtensions))
	}
	return false
}

// expandTree returns v with every loop in it expanded; path names v in
// errors, identifiers are those of the enclosing loops.
func (x *expander) expandTree(v any, path string, identifiers []string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		var loops []string
		for key, val := range v {
			if strings.HasPrefix(key, forEachPrefix) {
				loops = append(loops, key)
				continue
			}
			expanded, err := x.expandTree(val, path+"/"+key, identifiers)
			if err != nil {
				return nil, err
			}
			out[key] = expanded
		}
		slices.Sort(loops) // a stable order for the error messages
		for _, key := range loops {
			entries, err := x.expandLoop(v[key], path+"/"+key, identifiers)
			if err != nil {
				return nil, err
			}
			for k, val := range entries {
				if _, dup := out[k]; dup {
					return nil, fmt.Errorf("%s: the expansion yields %q, which is already in %s", path+"/"+key, k, path)
				}
				out[k] = val
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			expanded, err := x.expandTree(val, fmt.Sprintf("%s/%d", path, i), identifiers)
			if err != nil {
				return nil, err
			}
			out[i] = expanded
		}
		return out, nil
	}
	return v, nil
}

// expandLoop returns the entries one Fn::ForEach stands for.
func (x *expander) expandLoop(v any, path string, identifiers []string) (map[string]any, error) {
	if len(identifiers) >= maxForEachDepth {
		return nil, fmt.Errorf("%s: more than %d nested Fn::ForEach loops", path, maxForEachDepth)
	}
	args, ok := v.([]any)
	if !ok || len(args) != 3 {
		return nil, fmt.Errorf("%s: want [Identifier, Collection, {OutputKey: OutputValue}]", path)
	}
	id, ok := args[0].(string)
	if !ok || !alphanumeric.MatchString(id) {
		return nil, fmt.Errorf("%s: the identifier %v is not an alphanumeric string", path, args[0])
	}
	if params, _ := x.template["Parameters"].(map[string]any); params[id] != nil {
		return nil, fmt.Errorf("%s: the identifier %s is also a parameter", path, id)
	}
	if slices.Contains(identifiers, id) {
		return nil, fmt.Errorf("%s: the identifier %s is already an enclosing loop's", path, id)
	}
	items, err := x.collection(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: collection: %w", path, err)
	}
	body, ok := args[2].(map[string]any)
	if !ok || len(body) == 0 {
		return nil, fmt.Errorf("%s: want {OutputKey: OutputValue} after the collection", path)
	}
	for outputKey := range body {
		if strings.HasPrefix(outputKey, forEachPrefix) {
			continue // a nested loop: its own keys carry its identifier
		}
		if !strings.Contains(outputKey, "${"+id+"}") && !strings.Contains(outputKey, "&{"+id+"}") {
			return nil, fmt.Errorf("%s: the output key %q contains neither ${%s} nor &{%s}", path, outputKey, id, id)
		}
	}

	out := map[string]any{}
	inner := append(slices.Clone(identifiers), id)
	for _, item := range items {
		expanded, err := x.expandTree(plainSubs(substitute(body, id, item)), path, inner)
		if err != nil {
			return nil, err
		}
		for k, val := range expanded.(map[string]any) {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("%s: the expansion yields %q twice", path, k)
			}
			out[k] = val
		}
	}
	return out, nil
}

// collection returns the items of a loop's collection: a list of strings,
// or a Ref to a list parameter (CommaDelimitedList, List<...>).
func (x *expander) collection(v any) ([]string, error) {
	switch v := v.(type) {
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("item %d is %v, not a string", i, item)
			}
			items[i] = s
		}
		return items, nil
	case map[string]any:
		name, ok := v["Ref"].(string)
		if !ok || len(v) != 1 {
			break
		}
		params, _ := x.template["Parameters"].(map[string]any)
		p, ok := params[name].(map[string]any)
		if typ, _ := p["Type"].(string); !ok || !(typ == "CommaDelimitedList" || strings.HasPrefix(typ, "List<")) {
			return nil, fmt.Errorf("parameter %s: not a list (CommaDelimitedList, List<...>)", name)
		}
		value, ok := x.params[name]
		if !ok {
			if value, ok = p["Default"]; !ok {
				return nil, fmt.Errorf("parameter %s: no value and no default", name)
			}
		}
		switch value := value.(type) {
		case string:
			items := strings.Split(value, ",")
			for i := range items {
				items[i] = strings.TrimSpace(items[i])
			}
			return items, nil
		case []string:
			return value, nil
		case []any:
			return x.collection(value)
		}
		return nil, fmt.Errorf("parameter %s: value %v is not a list", name, value)
	}
	return nil, fmt.Errorf("%v is neither a list nor a Ref to a list parameter", v)
}

var notAlphanumeric = regexp.MustCompile(`[^A-Za-z0-9]+`)

// substitute returns a copy of v with one loop item in place of its
// identifier: ${id} in keys and strings, &{id} (alphanumeric characters
// only) likewise, and {"Ref": id}.
func substitute(v any, id, item string) any {
	dollar, amp := "${"+id+"}", "&{"+id+"}"
	stripped := notAlphanumeric.ReplaceAllString(item, "")
	var sub func(v any) any
	sub = func(v any) any {
		switch v := v.(type) {
		case string:
			return strings.ReplaceAll(strings.ReplaceAll(v, dollar, item), amp, stripped)
		case map[string]any:
			if ref, ok := v["Ref"].(string); ok && len(v) == 1 && ref == id {
				return item
			}
			out := make(map[string]any, len(v))
			for k, val := range v {
				out[sub(k).(string)] = sub(val)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, val := range v {
				out[i] = sub(val)
			}
			return out
		}
		return v
	}
	return sub(v)
}

// plainSubs returns v with each Fn::Sub that the loop left without
// variables replaced by its string, as AWS::LanguageExtensions resolves
// them: {"Fn::Sub": "HealthFunction errors"} becomes "HealthFunction
// errors", and so {"Ref": {"Fn::Sub": "${Fn}Function"}} names the resource
// HealthFunction directly. An Fn::Sub with a variable left (${AWS::Region},
// ${!Literal}) is kept.
func plainSubs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if s, ok := v["Fn::Sub"].(string); ok && len(v) == 1 && !strings.Contains(s, "${") {
			return s
		}
		out := make(map[string]any, len(v))
		for k, val := range v {
			out[k] = plainSubs(val)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			out[i] = plainSubs(val)
		}
		return out
	}
	return v
}

// findForEach returns the path of the first Fn::ForEach in v, or "".
func findForEach(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			if strings.HasPrefix(k, forEachPrefix) {
				return path + "/" + k
			}
			if p := findForEach(val, path+"/"+k); p != "" {
				return p
			}
		}
	case []any:
		for i, val := range v {
			if p := findForEach(val, fmt.Sprintf("%s/%d", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}
