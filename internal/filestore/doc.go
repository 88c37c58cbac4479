// Package filestore is a durable counter.Store in one local file, the
// standalone server's store for self-hosting (STORE=file, DATA_PATH): every
// change it acknowledges is on disk before Apply returns, and concurrent
// writes share one disk flush.
//
// The file is a bbolt database (go.etcd.io/bbolt, pure Go: the binary stays
// static). bbolt commits a transaction by writing its pages, fdatasync,
// then writing one of two alternating meta pages (checksummed), fdatasync:
// a crash at any point leaves the previous meta page and everything it
// points to intact, so the file opens on the last complete transaction.
// docs/architecture.md says why bbolt rather than SQLite.
//
// # Group commit
//
// Apply hands its write to one committer goroutine and waits. The committer
// takes every write waiting, applies them in order in one bbolt
// transaction, commits it (two fdatasyncs, whatever the number of writes),
// then answers them all: under load a commit carries as many writes as
// arrived during the previous one, and alone a write waits for one commit,
// never for a timer (bbolt's own DB.Batch waits up to 10 ms to fill a batch).
// A write that fails in a way that is not an answer (a damaged value, a
// full disk) is taken out and the others are applied again without it.
// If a commit itself fails, the state of the file is not known to this
// process any more: the store refuses every later write as Unavailable
// and Ping fails, until the server is restarted and the file checked.
//
// # Layout
//
// Eight buckets: "meta" (the format marker and the number of records),
// "counters" (name -> count and times), "hours" and "days" (name, 0x00,
// bucket start -> hits, then bots and unique visitors: the estimate of a
// bucket once a later one exists, the sketch of the last one, written
// once per commit: history.go), "records" (an idempotency scope -> the answer of a
// keyed write), "expiry" (expiry time, scope -> the record's client: the
// records in expiry order), "clients" (client -> its number of records)
// and "byclient" (client, expiry time, scope -> nothing: each client's
// records in expiry order), a client being the SHA-256 of
// counter.IdempotencyKey.Client. Every value ends with a CRC-32C of its
// bucket, key and value, checked whenever it is read.
//
// The salts of unique visitors (Store.Salt) are not in the data file, so
// that no snapshot holds one, but beside it (SaltsSuffix), each deleted
// once its day has ended more than uniques.SaltMargin ago: salts.go.
//
// # Bounded records
//
// Live idempotency records are bounded in all and per client
// (WithMaxIdempotencyRecords, WithMaxIdempotencyRecordsPerClient; the
// memory store's defaults): a keyed write with a new key past a bound is
// refused as Unavailable (counter.ErrRecordsFull) with the time until the
// oldest record in the way expires, neither applied nor recorded. Apply
// finds such a refusal in a read transaction first, so that a flood of
// them costs no commit; the committer checks again.
//
// # Damage, rollback and locking
//
// Open refuses a file that is damaged, with an error that says so, and
// never rewrites it: both meta pages invalid, a file shorter than its last
// transaction needs (truncated), a page structure that bbolt's consistency
// check rejects, or a value whose checksum does not match. A last
// transaction that never completed (a crash between its data and its meta
// page, or a torn meta page) is not damage: bbolt opens the transaction
// before it, which was the last one acknowledged. Open takes an exclusive
// lock on the file (flock) for as long as the store is open: a second
// server on the same file is refused, and the lock goes with the process
// however it ends.
//
// # Bounded growth
//
// As on DynamoDB, idempotency records live counter.IdempotencyTTL and
// history buckets their period's Retention: each commit removes records
// that expired (oldest first, a bounded number), each increment the
// counter's buckets past retention, and a sweep every hour (and at Open)
// those of counters that get no more hits.
package filestore
