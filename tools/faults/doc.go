// Package faults holds the service's fault tests and nothing else: the
// standalone server against a DynamoDB Local killed with SIGKILL mid-load, a
// store that hangs, a store that is down from the start, clients that
// disconnect mid-request, and a fuzz test of the whole HTTP API. They run
// with `go test ./...`; the kill test prints its tally as a line starting
// with "faults: kill-mid-load" (see it with go test -v -run KillMidLoad).
package faults
