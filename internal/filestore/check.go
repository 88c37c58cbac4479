package filestore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
)

// ErrDamaged is the cause of an Open refused because the file is damaged
// (truncated, torn or overwritten: not the normal rollback of a last
// transaction that never completed) and of a read that met a damaged value.
// The file is left as it is: restore it from a snapshot.
var ErrDamaged = errors.New("the data file is damaged")

// ErrLocked is the cause of an Open refused because another process (or
// another Store in this one) has the file open.
var ErrLocked = errors.New("the data file is in use by another process")

// The meta page of bbolt's file format (version 2), which headerOf reads
// before bbolt maps the file: a page header of 16 bytes, then magic,
// version, page size and flags (4 bytes each), the root bucket (16), the
// freelist page (8), the high-water mark (8: the number of pages in use),
// the transaction ID (8) and an FNV-64a checksum of what precedes it (8),
// in the machine's byte order (little-endian on every platform we build
// for).
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 64
	metaSummed     = 56 // the bytes the checksum covers
)

// header is what a valid meta page says.
type header struct {
	pageSize  int64
	highWater int64 // pages in use
	txID      uint64
}

// parseMeta reads the meta page at the start of page, or returns why it
// is not valid.
func parseMeta(page []byte) (header, error) {
	if len(page) < pageHeaderSize+metaSize {
		return header{}, errors.New("short")
	}
	m := page[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.LittleEndian
	if le.Uint32(m) != boltMagic {
		return header{}, errors.New("no bbolt magic number")
	}
	if v := le.Uint32(m[4:]); v != boltVersion {
		return header{}, fmt.Errorf("format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSummed])
	if h.Sum64() != le.Uint64(m[metaSummed:]) {
		return header{}, errors.New("checksum mismatch")
	}
	return header{pageSize: int64(le.Uint32(m[8:])), highWater: int64(le.Uint64(m[40:])), txID: le.Uint64(m[48:])}, nil
}

// precheck looks at an existing file before bbolt opens it, as bbolt
// would not: bbolt maps the file and reads the pages its meta page points
// to, and a page past the end of a truncated file would crash the process
// (SIGBUS) rather than fail. It returns ErrLocked if another process holds
// the file, and ErrDamaged unless one meta page is valid and the file is
// as long as the transaction it records needs. exists is false for a file
// that does not exist yet or is empty (bbolt initializes it). note is not
// empty when one meta page is not valid: see Store.Recovered.
func precheck(path string) (exists bool, note string, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	// A lock held elsewhere is the answer before anything else: the
	// other process may be in the middle of a commit.
	for deadline := time.Now().Add(lockWait); ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return true, "", fmt.Errorf("lock: %w", err)
		}
		if time.Now().After(deadline) {
			return true, "", ErrLocked
		}
		time.Sleep(50 * time.Millisecond) // flock has no wait with a timeout
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	info, err := f.Stat()
	if err != nil {
		return true, "", err
	}
	size := info.Size()
	if size == 0 {
		return false, "", nil
	}
	// The first meta page is at offset 0; the second one page further,
	// and the page size is in the first, or, if that one is damaged,
	// found by trying the usual sizes.
	first := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(first, 0); err != nil && !errors.Is(err, io.EOF) {
		return true, "", err
	}
	var valid []header
	var why []string
	m0, err0 := parseMeta(first)
	if err0 == nil {
		valid = append(valid, m0)
	} else {
		why = append(why, "meta page 0: "+err0.Error())
	}
	sizes := []int64{m0.pageSize}
	if err0 != nil {
		sizes = []int64{4096, 8192, 16384, 32768, 65536}
	}
	for _, ps := range sizes {
		second := make([]byte, pageHeaderSize+metaSize)
		if _, err := f.ReadAt(second, ps); err != nil && !errors.Is(err, io.EOF) {
			return true, "", err
		}
		if m1, err := parseMeta(second); err == nil && m1.pageSize == ps {
			valid = append(valid, m1)
			break
		} else if err0 == nil {
			why = append(why, "meta page 1: "+fmt.Sprint(err))
		}
	}
	if len(valid) == 0 {
		if len(why) == 1 {
			why = append(why, "meta page 1: not found at any usual page size")
		}
		return true, "", fmt.Errorf("%w: no valid meta page (%s); it is not a hitcounter data file, or its first pages were overwritten", ErrDamaged, joinWhy(why))
	}
	// bbolt uses the valid meta page with the higher transaction ID.
	use := valid[0]
	if len(valid) == 2 && valid[1].txID > use.txID {
		use = valid[1]
	}
	if need := use.highWater * use.pageSize; size < need {
		return true, "", fmt.Errorf("%w: it is %d bytes long, but its last transaction (%d) needs %d: the file was truncated", ErrDamaged, size, use.txID, need)
	}
	if len(valid) == 1 {
		note = fmt.Sprintf("one of its two meta pages is not valid (%s): it opened on transaction %d, the last complete one. "+
			"A commit cut short by a power cut leaves this, and loses nothing that was acknowledged", joinWhy(why), use.txID)
	}
	return true, note, nil
}

func joinWhy(why []string) string {
	var b bytes.Buffer
	for i, w := range why {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(w)
	}
	return b.String()
}

// guard runs f and turns a panic, or a fault in reading the mapped file
// (debug.SetPanicOnFault), into an ErrDamaged error: bbolt panics on some
// page structures it cannot read.
func guard(what string, f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %s: %v", ErrDamaged, what, v)
		}
	}()
	return f()
}

// verify checks the whole file as of one read transaction: bbolt's
// consistency check of its page structure, then every value's checksum
// and shape. It returns the first problems found, as an ErrDamaged error.
func verify(db *bbolt.DB) error {
	return guard("checking the file", func() error {
		return db.View(func(tx *bbolt.Tx) error {
			var problems []error
			for err := range tx.Check() {
				if len(problems) < 5 {
					problems = append(problems, err)
				}
			}
			if len(problems) > 0 {
				return fmt.Errorf("%w: its page structure is inconsistent: %w", ErrDamaged, errors.Join(problems...))
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil || !bytes.Equal(meta.Get(formatKey), seal(bucketMeta, formatKey, bytes.Clone(formatV1))) {
				return fmt.Errorf("%w: it is a bbolt database without hitcounter's format marker: not a hitcounter data file, or a damaged one", ErrDamaged)
			}
			for _, name := range allBuckets[1:] {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("%w: bucket %s is missing", ErrDamaged, name)
				}
			}
			check := func(bucket []byte, decode func(k, v []byte) error) error {
				return tx.Bucket(bucket).ForEach(decode)
			}
			if err := check(bucketCounters, func(k, v []byte) error { _, err := decodeCounter(k, v); return err }); err != nil {
				return err
			}
			for _, b := range [][]byte{bucketHours, bucketDays} {
				if err := check(b, func(k, v []byte) error {
					if _, ok := historyStart(k); !ok {
						return damagedValue(b, k, errors.New("malformed key"))
					}
					_, err := decodeBucket(b, k, v)
					return err
				}); err != nil {
					return err
				}
			}
			if err := check(bucketRecords, func(k, v []byte) error { _, err := decodeRecord(k, v); return err }); err != nil {
				return err
			}
			if err := check(bucketExpiry, func(k, v []byte) error {
				ck, err := unseal(bucketExpiry, k, v)
				if err == nil && len(ck) != 0 && len(ck) != sha256.Size {
					err = damagedValue(bucketExpiry, k, fmt.Errorf("%d bytes, want 0 or %d", len(ck), sha256.Size))
				}
				return err
			}); err != nil {
				return err
			}
			if err := check(bucketClients, func(k, v []byte) error { _, err := decodeCount(bucketClients, k, v); return err }); err != nil {
				return err
			}
			if v := meta.Get(recordsKey); v != nil {
				if _, err := decodeCount(bucketMeta, recordsKey, v); err != nil {
					return err
				}
			}
			return check(bucketByClient, func(k, v []byte) error { _, err := unseal(bucketByClient, k, v); return err })
		})
	})
}
