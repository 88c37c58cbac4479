// Package counter is the hitcounter domain: the Counter type, name and count
// validation, the error kinds a store can report, and the Store interface
// that each storage technology implements.
package counter
