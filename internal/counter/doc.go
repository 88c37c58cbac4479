// Package counter is the hitcounter domain: the Counter type, name and count
// validation, the error kinds every layer speaks, and the Store interface that
// each storage technology implements.
package counter
