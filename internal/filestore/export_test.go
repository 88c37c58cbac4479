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
