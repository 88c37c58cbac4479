package iamgate

import (
	"fmt"
	"regexp"
	"strings"
)

// DynamoDB Local's account and region: the ARNs it gives its tables and
// streams (arn:aws:dynamodb:ddblocal:000000000000:table/<name>).
const (
	LocalPartition = "aws"
	LocalRegion    = "ddblocal"
	LocalAccountID = "000000000000"
)

// Resources is where the template's resources are in the local stack: what
// a policy's !GetAtt CountersTable.Arn, !Ref CountersTable or
// !Sub "${CountersTable.Arn}/index/*" stand for there.
type Resources struct {
	// Partition, Region and AccountID are the pseudo parameters' values;
	// "" means DynamoDB Local's (LocalPartition, LocalRegion,
	// LocalAccountID).
	Partition, Region, AccountID string
	// Tables are the template's tables, by logical ID.
	Tables map[string]Table
}

// Table is a DynamoDB table of the local stack.
type Table struct {
	Name string
	// ARN and StreamARN are the table's and its latest stream's, as
	// DynamoDB Local gives them (DescribeTable); "" for a table ARN means
	// the one TableARN makes, for a stream ARN that it has none.
	ARN, StreamARN string
}

// TableARN is the ARN of the named table in the given region and account.
func TableARN(partition, region, accountID, name string) string {
	return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", partition, region, accountID, name)
}

func (r *Resources) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Partition":
		return or(r.Partition, LocalPartition), true
	case "AWS::Region":
		return or(r.Region, LocalRegion), true
	case "AWS::AccountId":
		return or(r.AccountID, LocalAccountID), true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	}
	return "", false
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// attribute resolves X.Attr (Fn::GetAtt) or X (Ref) of a table or a pseudo
// parameter.
func (r *Resources) attribute(id, attr string) (string, error) {
	if attr == "" {
		if v, ok := r.pseudo(id); ok {
			return v, nil
		}
	}
	t, ok := r.Tables[id]
	if !ok {
		return "", fmt.Errorf("%s is no table of the local stack", strings.TrimSuffix(id+"."+attr, "."))
	}
	switch attr {
	case "":
		return t.Name, nil
	case "Arn":
		if t.ARN == "" {
			return TableARN(or(r.Partition, LocalPartition), or(r.Region, LocalRegion), or(r.AccountID, LocalAccountID), t.Name), nil
		}
		return t.ARN, nil
	case "StreamArn":
		if t.StreamARN == "" {
			return "", fmt.Errorf("%s has no stream in the local stack", id)
		}
		return t.StreamARN, nil
	}
	return "", fmt.Errorf("attribute %s.%s", id, attr)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolve returns the string a policy value stands for: a literal, or a
// Ref, Fn::GetAtt, Fn::Sub or Fn::Join of tables and pseudo parameters.
func (r *Resources) resolve(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any:
		if len(v) != 1 {
			break
		}
		for fn, arg := range v {
			switch fn {
			case "Ref":
				if id, ok := arg.(string); ok {
					return r.attribute(id, "")
				}
			case "Fn::GetAtt":
				switch a := arg.(type) {
				case []any:
					id, _ := a[0].(string)
					attr, _ := a[len(a)-1].(string)
					if len(a) == 2 && id != "" && attr != "" {
						return r.attribute(id, attr)
					}
				case string:
					if id, attr, ok := strings.Cut(a, "."); ok {
						return r.attribute(id, attr)
					}
				}
			case "Fn::Sub":
				return r.sub(arg)
			case "Fn::Join":
				a, _ := arg.([]any)
				if len(a) != 2 {
					break
				}
				sep, ok := a[0].(string)
				parts, ok2 := a[1].([]any)
				if !ok || !ok2 {
					break
				}
				out := make([]string, len(parts))
				for i, p := range parts {
					s, err := r.resolve(p)
					if err != nil {
						return "", err
					}
					out[i] = s
				}
				return strings.Join(out, sep), nil
			}
		}
	}
	return "", fmt.Errorf("%v: not a value the local gate can resolve", v)
}

// sub resolves an Fn::Sub: a string, or [string, {name: value}].
func (r *Resources) sub(arg any) (string, error) {
	s, ok := arg.(string)
	vars := map[string]any{}
	if !ok {
		a, _ := arg.([]any)
		if len(a) != 2 {
			return "", fmt.Errorf("Fn::Sub %v", arg)
		}
		s, ok = a[0].(string)
		m, ok2 := a[1].(map[string]any)
		if !ok || !ok2 {
			return "", fmt.Errorf("Fn::Sub %v", arg)
		}
		vars = m
	}
	var err error
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			return "${" + lit + "}"
		}
		var v string
		var e error
		if x, ok := vars[name]; ok {
			v, e = r.resolve(x)
		} else {
			id, attr, _ := strings.Cut(name, ".")
			v, e = r.attribute(id, attr)
		}
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	if err != nil {
		return "", fmt.Errorf("Fn::Sub %q: %w", s, err)
	}
	return out, nil
}
