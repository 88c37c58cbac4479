// Package httpapi serves the counter API over plain net/http: routing, JSON
// decoding and encoding, the one table that maps error codes to HTTP statuses,
// and per-request logging. It serves any subset of the routes, so each Lambda
// function can mount exactly one.
package httpapi
