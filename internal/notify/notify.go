// Package notify tells listeners whose records a store changed: the
// reports' summaries and the learning records (xAPI) follow the stores so.
package notify

import (
	"sync"
	"sync/atomic"
)

// Listeners are the functions told of a change; they may be added while
// the store already runs (the list is replaced whole, atomically) and must
// not block.
type Listeners struct {
	mu   sync.Mutex
	list atomic.Pointer[[]func(userID string)]
}

// Add adds f.
func (l *Listeners) Add(f func(userID string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var next []func(string)
	if cur := l.list.Load(); cur != nil {
		next = append(next, *cur...)
	}
	next = append(next, f)
	l.list.Store(&next)
}

// Tell tells every listener of userID ("" tells nobody).
func (l *Listeners) Tell(userID string) {
	if userID == "" {
		return
	}
	if cur := l.list.Load(); cur != nil {
		for _, f := range *cur {
			f(userID)
		}
	}
}
