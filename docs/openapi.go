// Package docs holds the service's documents that code reads: the OpenAPI
// description of the HTTP contract, embedded so tests anywhere in the module
// (and outside it) can load it without knowing where the repository lives.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml: the OpenAPI 3.0 description of the HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
