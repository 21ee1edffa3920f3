// Package cache is a small in-memory cache with a time limit per entry,
// for reads that signed-in requests repeat (sessions, a learner's progress).
// Writes made through this process invalidate what they change at once;
// writes made by another instance show after at most the time limit.
package cache

import (
	"sync"
	"time"
)

// TTL caches values of type V by string key for a fixed time.
type TTL[V any] struct {
	ttl time.Duration
	max int
	// Now is the clock (time.Now unless a test or its owner sets another).
	Now  func() time.Time
	mu   sync.RWMutex
	data map[string]entry[V]
	// groups lets a set of keys be dropped together (a user's sessions).
	groups map[string]map[string]struct{}

	flightMu sync.Mutex
	flights  map[string]*flight[V]
	// gens counts the deletions of each key, so a load that a deletion
	// overtook is not stored.
	gens map[string]uint64
}

type flight[V any] struct {
	gen  uint64 // the key's deletions when the load began
	done chan struct{}
	v    V
	err  error
}

// GetOrLoad returns a live entry or loads it (the loader also names the
// entry's group); concurrent misses of one key share a single load (no
// stampede on the database when an entry expires under load). A failed
// load is not cached, and neither is one that a Delete overtook: a write
// made during the load must not be hidden by what was read before it.
func (c *TTL[V]) GetOrLoad(key string, load func() (V, string, error)) (V, error) {
	c.mu.RLock()
	e, cached := c.data[key]
	c.mu.RUnlock()
	now := c.Now()
	live := cached && !now.After(e.expires)
	if live && now.Before(e.refresh) {
		return e.v, nil
	}
	c.flightMu.Lock()
	if c.flights == nil {
		c.flights = map[string]*flight[V]{}
	}
	c.mu.RLock()
	gen := c.gens[key]
	c.mu.RUnlock()
	if f, ok := c.flights[key]; ok && f.gen == gen {
		c.flightMu.Unlock()
		if live {
			return e.v, nil // someone is refreshing it; this one is still good
		}
		<-f.done
		return f.v, f.err
	}
	// No load, or one that a Delete overtook (it may have read before the
	// write the Delete stands for, so a caller arriving after the Delete
	// must not get its result): this caller loads.
	f := &flight[V]{done: make(chan struct{}), gen: gen}
	c.flights[key] = f
	c.flightMu.Unlock()

	var group string
	f.v, group, f.err = load()
	if f.err == nil {
		c.mu.RLock()
		same := c.gens[key] == gen
		c.mu.RUnlock()
		if same {
			c.Put(key, group, f.v)
		}
	}
	c.flightMu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	c.flightMu.Unlock()
	close(f.done)
	if f.err != nil && live {
		return e.v, nil // the refresh failed; the entry has not expired yet
	}
	return f.v, f.err
}

type entry[V any] struct {
	v       V
	expires time.Time
	refresh time.Time // after this, one caller reloads while the rest still use v
	group   string
}

// New makes a cache whose entries live ttl, holding at most max entries.
func New[V any](ttl time.Duration, max int) *TTL[V] {
	return &TTL[V]{ttl: ttl, max: max, Now: time.Now, data: map[string]entry[V]{}, groups: map[string]map[string]struct{}{}}
}

// Get returns a live entry.
func (c *TTL[V]) Get(key string) (V, bool) {
	c.mu.RLock()
	e, ok := c.data[key]
	c.mu.RUnlock()
	if !ok || c.Now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under key, in group (may be empty).
func (c *TTL[V]) Put(key, group string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.data) >= c.max {
		c.sweep()
		if len(c.data) >= c.max {
			return // full of live entries: serve from the database
		}
	}
	now := c.Now()
	c.data[key] = entry[V]{v: v, expires: now.Add(c.ttl), refresh: now.Add(c.ttl * 4 / 5), group: group}
	if group != "" {
		g := c.groups[group]
		if g == nil {
			g = map[string]struct{}{}
			c.groups[group] = g
		}
		g[key] = struct{}{}
	}
}

// Delete drops one key.
func (c *TTL[V]) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drop(key)
}

// DeleteGroup drops every key of a group.
func (c *TTL[V]) DeleteGroup(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.groups[group] {
		c.drop(k)
	}
	delete(c.groups, group)
}

func (c *TTL[V]) drop(key string) {
	if c.gens == nil {
		c.gens = map[string]uint64{}
	}
	c.gens[key]++
	e, ok := c.data[key]
	if !ok {
		return
	}
	delete(c.data, key)
	if g := c.groups[e.group]; g != nil {
		delete(g, key)
		if len(g) == 0 {
			delete(c.groups, e.group)
		}
	}
}

func (c *TTL[V]) sweep() {
	now := c.Now()
	for k, e := range c.data {
		if now.After(e.expires) {
			c.drop(k)
		}
	}
}
