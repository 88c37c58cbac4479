package badge

import "encoding/json"

// Endpoint is a badge in shields.io's endpoint-badge schema
// (https://shields.io/badges/endpoint-badge): shields.io draws it in any of
// its styles from a URL that answers this JSON.
type Endpoint struct {
	SchemaVersion int    `json:"schemaVersion"` // always 1
	Label         string `json:"label"`
	Message       string `json:"message"`
	Color         string `json:"color"`
	Style         string `json:"style,omitempty"`
	// IsError marks a badge that reports an error, as the schema defines.
	IsError bool `json:"isError,omitempty"`
}

// Endpoint returns the badge in shields.io's endpoint schema; isError marks
// an error badge.
func (b Badge) Endpoint(isError bool) Endpoint {
	return Endpoint{SchemaVersion: 1, Label: b.Label, Message: b.Message, Color: b.Color.String(), Style: string(b.Style), IsError: isError}
}

// JSON encodes the endpoint badge. encoding/json escapes <, > and & as
// well, so the body is safe even if a client sniffs it as HTML.
func (e Endpoint) JSON() []byte {
	b, _ := json.Marshal(e) // strings, an int and a bool: it cannot fail
	return b
}
