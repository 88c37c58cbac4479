// Package uniques counts unique visitors without tracking anyone: a visitor
// is a salted hash of the client's address, its User-Agent and the
// counter's name (Hasher), under a salt that is random, one per UTC day,
// and deleted after the day (Salts); the stores count the distinct hashes
// of a bucket with a HyperLogLog sketch (Sketch, github.com/axiomhq/
// hyperloglog), exact for small numbers.
package uniques
