package database

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
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
//
// Writers queue in two lines. A write whose context Background marked
// (the certificate worker, the outbox, the reports' summaries, the
// sweepers) waits while a request's write waits, so a burst of background
// work does not stand between a learner and their saved answer; one that
// has waited BackgroundWait goes next all the same, so no background
// work starves. Within a line, writers go in the order they came.
type Gate struct {
	mu     sync.Mutex
	held   bool
	fg, bg []waiter
	now    func() time.Time // tests
}

type waiter struct {
	ready chan struct{}
	since time.Time
}

// BackgroundWait is the longest a background write lets requests' writes
// go first.
const BackgroundWait = 100 * time.Millisecond

type backgroundKey struct{}

// Background marks ctx as background work: its writes give way to
// requests' writes at the gate (see Gate).
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

// isBackground reports whether ctx was marked by Background.
func isBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// Hold waits for the gate and returns its release.
func (g *Gate) Hold(ctx context.Context) (release func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return g.release
	}
	w := waiter{ready: make(chan struct{})}
	if isBackground(ctx) {
		w.since = g.clock()
		g.bg = append(g.bg, w)
	} else {
		g.fg = append(g.fg, w)
	}
	g.mu.Unlock()
	// The gate is handed over, held, to the waiter it wakes: waiting is
	// not cut short by ctx (the write itself then fails at once).
	<-w.ready
	return g.release
}

func (g *Gate) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// release hands the gate to the next waiter: a request's write, unless
// the oldest background write has waited BackgroundWait.
func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case len(g.bg) > 0 && (len(g.fg) == 0 || g.clock().Sub(g.bg[0].since) >= BackgroundWait):
		close(g.bg[0].ready)
		g.bg[0] = waiter{}
		g.bg = g.bg[1:]
	case len(g.fg) > 0:
		close(g.fg[0].ready)
		g.fg[0] = waiter{}
		g.fg = g.fg[1:]
	default:
		g.held = false
	}
}
