package filestore

import "go.etcd.io/bbolt"

// Keys returns the number of keys in the named bucket of s.
func Keys(s *Store, bucket string) int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket([]byte(bucket)).Stats().KeyN
		return nil
	})
	return n
}

// Sketches returns the number of buckets of history in s that hold a
// sketch of visitors.
func Sketches(s *Store) int {
	n := 0
	_ = s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketHours, bucketDays} {
			_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
				if b, err := decodeBucket(name, k, v); err == nil && len(b.sketch) > 0 {
					n++
				}
				return nil
			})
		}
		return nil
	})
	return n
}
