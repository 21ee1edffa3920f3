package database

import (
	"hash/maphash"
	"sync"
)

// Locks serializes the updates of one document within this process.
//
// FerretDB v1 applies an update by reading the document, changing it in Go
// and writing it back, without a transaction: two concurrent updates of the
// same document can lose one of them (measured: 100 concurrent $inc of one
// field left 22). The embedded store belongs to one process (it holds the
// data directory's lock), so serializing per document here makes $inc,
// $max, $min and $pull safe on it. MongoDB updates documents atomically by
// itself; there the lock only costs a few nanoseconds.
type Locks struct {
	seed    maphash.Seed
	stripes [256]sync.Mutex
}

// NewLocks makes a lock table.
func NewLocks() *Locks { return &Locks{seed: maphash.MakeSeed()} }

// Lock locks the stripe of key and returns its unlock.
func (l *Locks) Lock(key string) (unlock func()) {
	m := &l.stripes[maphash.String(l.seed, key)%uint64(len(l.stripes))]
	m.Lock()
	return m.Unlock
}

// Gate queues this process's writes to the embedded store. SQLite has one
// writer at a time, and a write that finds the database locked waits in
// SQLite's busy handler, which sleeps in growing steps (up to 100 ms)
// rather than queueing: under load, writers from several stores collide
// and the unlucky ones wait far longer than the writes take. Stores that
// pass their writes through the one Gate of the process queue in Go
// instead. A nil Gate (MongoDB, which has no such limit) holds nothing.
type Gate struct{ mu sync.Mutex }

// Hold waits for the gate and returns its release.
func (g *Gate) Hold() (release func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	return g.mu.Unlock
}
