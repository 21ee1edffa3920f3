package quiz

import (
	"context"

	"github.com/tyokyky/tyokyky/internal/database"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// collection is a collection whose writes pass one at a time through the
// process's write gate on the embedded store (see database.Gate). Reads
// are not gated (SQLite's WAL lets them run beside a write).
type collection struct {
	c    *mongo.Collection
	gate *database.Gate // nil: no gate (MongoDB)
}

func (s *Store) c(name string) collection {
	return collection{c: s.db.Collection(name), gate: s.Gate}
}

func (c collection) lock() func() { return c.gate.Hold() }

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
