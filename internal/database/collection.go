package database

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection is the one way stores reach the document store. Reads go
// straight to the driver; every write passes the process's write gate
// when this process runs the embedded store (see Gate), so no store holds
// the gate by hand and none can forget it.
//
// What the stores may rely on, and where it comes from:
//
//   - A single write (insert, update, replace, delete of one document) is
//     applied whole or not at all, and a unique index refuses a second
//     insert of the same key: MongoDB and FerretDB both guarantee this, in
//     one process and across instances. Every claim and every "exactly
//     once" in the platform rests on an insert under a unique index.
//   - Two concurrent updates of one document (an $inc, a conditional
//     update, a findOneAndUpdate used as a claim) are atomic on MongoDB
//     only. FerretDB v1 reads, changes and writes back without a
//     transaction and can lose or double one of them. Inside the process
//     that runs the embedded store, the gate serializes every write, so
//     they are safe there; across processes meeting on one FerretDB they
//     are not, and no guarantee may rest on them.
//   - The gate is otherwise a throughput aid: SQLite has one writer, and
//     writers queued in Go wait less than writers sleeping in SQLite's
//     busy handler. On MongoDB there is no gate.
//
// Index and collection management (Indexes, Drop) is schema work done at
// start or by administrative commands; Drop is gated like any write.
type Collection struct {
	c       *mongo.Collection
	gate    *Gate // nil: no gate (MongoDB, or another process runs the store)
	onWrite func(collection string, waited, held time.Duration)
}

func (c *Collection) hold(ctx context.Context) func() {
	if c.gate == nil || c.onWrite == nil {
		return c.gate.Hold(ctx)
	}
	asked := time.Now()
	release := c.gate.Hold(ctx)
	got := time.Now()
	return func() {
		release()
		c.onWrite(c.c.Name(), got.Sub(asked), time.Since(got))
	}
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.c.Name() }

// Indexes manages the collection's indexes (schema work, not gated).
func (c *Collection) Indexes() mongo.IndexView { return c.c.Indexes() }

// FindOne reads one document.
func (c *Collection) FindOne(ctx context.Context, filter any, opts ...options.Lister[options.FindOneOptions]) *mongo.SingleResult {
	return c.c.FindOne(ctx, filter, opts...)
}

// Find reads documents.
func (c *Collection) Find(ctx context.Context, filter any, opts ...options.Lister[options.FindOptions]) (*mongo.Cursor, error) {
	return c.c.Find(ctx, filter, opts...)
}

// CountDocuments counts documents.
func (c *Collection) CountDocuments(ctx context.Context, filter any, opts ...options.Lister[options.CountOptions]) (int64, error) {
	return c.c.CountDocuments(ctx, filter, opts...)
}

// InsertOne inserts one document (gated).
func (c *Collection) InsertOne(ctx context.Context, doc any, opts ...options.Lister[options.InsertOneOptions]) (*mongo.InsertOneResult, error) {
	defer c.hold(ctx)()
	return c.c.InsertOne(ctx, doc, opts...)
}

// InsertMany inserts documents (gated).
func (c *Collection) InsertMany(ctx context.Context, docs any, opts ...options.Lister[options.InsertManyOptions]) (*mongo.InsertManyResult, error) {
	defer c.hold(ctx)()
	return c.c.InsertMany(ctx, docs, opts...)
}

// UpdateOne updates one document (gated).
func (c *Collection) UpdateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	defer c.hold(ctx)()
	return c.c.UpdateOne(ctx, filter, update, opts...)
}

// UpdateByID updates the document with the given _id (gated).
func (c *Collection) UpdateByID(ctx context.Context, id, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	defer c.hold(ctx)()
	return c.c.UpdateByID(ctx, id, update, opts...)
}

// UpdateMany updates documents (gated; each document on its own).
func (c *Collection) UpdateMany(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateManyOptions]) (*mongo.UpdateResult, error) {
	defer c.hold(ctx)()
	return c.c.UpdateMany(ctx, filter, update, opts...)
}

// ReplaceOne replaces one document (gated).
func (c *Collection) ReplaceOne(ctx context.Context, filter, doc any, opts ...options.Lister[options.ReplaceOptions]) (*mongo.UpdateResult, error) {
	defer c.hold(ctx)()
	return c.c.ReplaceOne(ctx, filter, doc, opts...)
}

// FindOneAndUpdate updates one document and returns it (gated).
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update any, opts ...options.Lister[options.FindOneAndUpdateOptions]) *mongo.SingleResult {
	defer c.hold(ctx)()
	return c.c.FindOneAndUpdate(ctx, filter, update, opts...)
}

// DeleteOne deletes one document (gated).
func (c *Collection) DeleteOne(ctx context.Context, filter any, opts ...options.Lister[options.DeleteOneOptions]) (*mongo.DeleteResult, error) {
	defer c.hold(ctx)()
	return c.c.DeleteOne(ctx, filter, opts...)
}

// DeleteMany deletes documents (gated).
func (c *Collection) DeleteMany(ctx context.Context, filter any, opts ...options.Lister[options.DeleteManyOptions]) (*mongo.DeleteResult, error) {
	defer c.hold(ctx)()
	return c.c.DeleteMany(ctx, filter, opts...)
}

// Drop removes the collection (gated).
func (c *Collection) Drop(ctx context.Context) error {
	defer c.hold(ctx)()
	return c.c.Drop(ctx)
}
