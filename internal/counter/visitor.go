package counter

// Visitor is one visitor of one counter on one UTC day: a salted hash of
// the client's address, its User-Agent and the counter's name, under a salt
// that is random, one per day, and deleted after it (internal/uniques makes
// them). Nothing links it to a person once its day's salt is gone, nor two
// days' visitors to each other. 0 is no visitor.
type Visitor uint64
