package quiz

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collection is a collection whose writes pass one at a time through the
// store's gate on the embedded store. SQLite has a single writer: many
// concurrent write transactions through FerretDB wait on each other and
// time out (SQLITE_BUSY) instead of queueing, so this process queues them
// itself. Reads are not gated (SQLite's WAL lets them run beside a write).
type collection struct {
	c    *mongo.Collection
	gate *sync.Mutex // nil: no gate (MongoDB)
}

func (s *Store) c(name string) collection {
	if s.Embedded {
		return collection{c: s.db.Collection(name), gate: &s.writes}
	}
	return collection{c: s.db.Collection(name)}
}

func (c collection) lock() func() {
	if c.gate == nil {
		return func() {}
	}
	c.gate.Lock()
	return c.gate.Unlock
}

func (c collection) FindOne(ctx context.Context, filter any) *mongo.SingleResult {
	return c.c.FindOne(ctx, filter)
}

func (c collection) Find(ctx context.Context, filter any) (*mongo.Cursor, error) {
	return c.c.Find(ctx, filter)
}

func (c collection) InsertOne(ctx context.Context, doc any) (*mongo.InsertOneResult, error) {
	defer c.lock()()
	return c.c.InsertOne(ctx, doc)
}

func (c collection) UpdateOne(ctx context.Context, filter, update any) (*mongo.UpdateResult, error) {
	defer c.lock()()
	return c.c.UpdateOne(ctx, filter, update)
}

func (c collection) ReplaceOne(ctx context.Context, filter, doc any, opts ...options.Lister[options.ReplaceOptions]) (*mongo.UpdateResult, error) {
	defer c.lock()()
	return c.c.ReplaceOne(ctx, filter, doc, opts...)
}

func (c collection) DeleteOne(ctx context.Context, filter any) (*mongo.DeleteResult, error) {
	defer c.lock()()
	return c.c.DeleteOne(ctx, filter)
}
