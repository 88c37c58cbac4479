package samtemplate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// GatewayResponse is one of API Gateway's own answers (an unknown route, a
// missing key, a throttled request...) as the template's Api sets it in
// GatewayResponses, resolved for the template's parameters.
type GatewayResponse struct {
	Status  int
	Headers map[string]string
	Body    string // the application/json template: static JSON
}

// GatewayResponses returns the GatewayResponses of the template's one
// AWS::Serverless::Api, by response type (INVALID_API_KEY, DEFAULT_5XX...).
// Header values are API Gateway's static values ('...', or a Fn::Sub of
// parameters); any other value is an error.
func (t *Template) GatewayResponses() (map[string]GatewayResponse, error) {
	var api map[string]any
	resources, _ := t.Raw["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Api" {
			continue
		}
		if api != nil {
			return nil, fmt.Errorf("samtemplate: more than one AWS::Serverless::Api (%s)", id)
		}
		api, _ = res["Properties"].(map[string]any)
	}
	responses, _ := api["GatewayResponses"].(map[string]any)
	out := make(map[string]GatewayResponse, len(responses))
	for typ, v := range responses {
		r, err := t.gatewayResponse(v)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: GatewayResponses %s: %w", typ, err)
		}
		out[typ] = r
	}
	return out, nil
}

func (t *Template) gatewayResponse(v any) (GatewayResponse, error) {
	m, _ := v.(map[string]any)
	var r GatewayResponse
	status, err := strconv.Atoi(fmt.Sprint(m["StatusCode"]))
	if err != nil || status < 100 || status > 599 {
		return r, fmt.Errorf("StatusCode %v is not an HTTP status", m["StatusCode"])
	}
	r.Status = status
	templates, _ := m["ResponseTemplates"].(map[string]any)
	if r.Body, _ = templates["application/json"].(string); r.Body == "" {
		return r, fmt.Errorf("no application/json ResponseTemplates")
	}
	params, _ := m["ResponseParameters"].(map[string]any)
	headers, _ := params["Headers"].(map[string]any)
	r.Headers = make(map[string]string, len(headers))
	for name, hv := range headers {
		s, err := t.staticValue(hv)
		if err != nil {
			return r, fmt.Errorf("header %s: %w", name, err)
		}
		r.Headers[name] = s
	}
	return r, nil
}

var subParam = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// staticValue resolves a gateway response parameter: a quoted static value
// ('*'), either literal or a Fn::Sub of template parameters.
func (t *Template) staticValue(v any) (string, error) {
	s, ok := v.(string)
	if m, isMap := v.(map[string]any); isMap && len(m) == 1 {
		s, ok = m["Fn::Sub"].(string)
		var missing error
		s = subParam.ReplaceAllStringFunc(s, func(ref string) string {
			p, err := t.parameter(ref[2 : len(ref)-1])
			if err != nil {
				missing = err
			}
			return p
		})
		if missing != nil {
			return "", missing
		}
	}
	if !ok || len(s) < 2 || !strings.HasPrefix(s, "'") || !strings.HasSuffix(s, "'") {
		return "", fmt.Errorf("%v is not a quoted static value", v)
	}
	return s[1 : len(s)-1], nil
}

// parameter returns a template parameter's value: as given, or its default.
func (t *Template) parameter(name string) (string, error) {
	e := evaluator{raw: t.Raw, params: t.params}
	v, err := e.value(map[string]any{"Ref": name})
	if err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

// Parameter returns a template parameter's value as given to Load, or its
// default; "" for a parameter the template does not declare.
func (t *Template) Parameter(name string) string {
	v, err := t.parameter(name)
	if err != nil {
		return ""
	}
	return v
}
