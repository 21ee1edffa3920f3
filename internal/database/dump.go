package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// What backups and restores need of the store (the backup package): the
// collections, their index specifications and documents as raw BSON, read
// at one point in time, and the same put back. It lives here because only
// this package talks to the driver and the SQLite files.

// Kinds of store, as a backup's manifest names its source.
const (
	KindEmbedded = "embedded"
	KindMongoDB  = "mongodb"
)

// ErrNoSnapshot means the deployment cannot give snapshot reads: a
// standalone server, a MongoDB older than 5.0, or FerretDB behind a URI.
var ErrNoSnapshot = errors.New("the deployment cannot give a snapshot (snapshot reads need a MongoDB 5.0 or newer replica set or sharded cluster)")

// snapshotWire is the wire version of MongoDB 5.0, the first with
// snapshot reads outside transactions.
const snapshotWire = 13

// CanSnapshot tells whether the deployment gives snapshot reads; the
// error says why not (wrapping ErrNoSnapshot) or that the question
// itself failed.
func (db *DB) CanSnapshot(ctx context.Context) error {
	var hello struct {
		SetName        string `bson:"setName"`
		Msg            string `bson:"msg"`
		MaxWireVersion int32  `bson:"maxWireVersion"`
	}
	if err := db.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fmt.Errorf("database: asking the deployment what it is: %w", err)
	}
	var build bson.M
	_ = db.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&build)
	switch {
	case build["ferretdb"] != nil || build["ferretdbVersion"] != nil:
		return fmt.Errorf("%w: it is FerretDB", ErrNoSnapshot)
	case hello.SetName == "" && hello.Msg != "isdbgrid":
		return fmt.Errorf("%w: it is a standalone server, not a replica set", ErrNoSnapshot)
	case hello.MaxWireVersion < snapshotWire:
		return fmt.Errorf("%w: its MongoDB is older than 5.0", ErrNoSnapshot)
	}
	return nil
}

// WithSnapshot runs fn with a context whose reads (Scan) all see the
// database at one point in time: a snapshot session. Listing collections
// and indexes is not part of the snapshot. Call CanSnapshot first for a
// clear refusal; MongoDB keeps a snapshot for minSnapshotHistoryWindow
// (5 minutes by default), so a longer read fails with SnapshotTooOld.
func (db *DB) WithSnapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	sess, err := db.Client.StartSession(options.Session().SetSnapshot(true))
	if err != nil {
		return fmt.Errorf("database: snapshot session: %w", err)
	}
	defer sess.EndSession(context.WithoutCancel(ctx))
	return fn(mongo.NewSessionContext(ctx, sess))
}

// CollectionNames lists the database's collections (no views and no
// system collections), sorted.
func (db *DB) CollectionNames(ctx context.Context) ([]string, error) {
	specs, err := db.Database.ListCollectionSpecifications(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("database: listing collections: %w", err)
	}
	var names []string
	for _, s := range specs {
		if s.Type == "view" || strings.HasPrefix(s.Name, "system.") {
			continue
		}
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names, nil
}

// indexFields are the parts of an index specification a backup carries
// and a restore recreates.
var indexFields = []string{"key", "name", "unique", "sparse", "partialFilterExpression", "expireAfterSeconds"}

// IndexSpecs returns the collection's indexes as listIndexes describes
// them, each cut to its key, name, unique, sparse, partial filter and TTL
// (no server-given fields such as v and ns), in name order.
func (db *DB) IndexSpecs(ctx context.Context, collection string) ([]bson.D, error) {
	cur, err := db.Database.Collection(collection).Indexes().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("database: indexes of %s: %w", collection, err)
	}
	defer cur.Close(ctx)
	var out []bson.D
	for cur.Next(ctx) {
		spec, err := cutIndexSpec(cur.Current)
		if err != nil {
			return nil, fmt.Errorf("database: indexes of %s: %w", collection, err)
		}
		out = append(out, spec)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("database: indexes of %s: %w", collection, err)
	}
	sort.Slice(out, func(i, j int) bool { return indexName(out[i]) < indexName(out[j]) })
	return out, nil
}

func cutIndexSpec(raw bson.Raw) (bson.D, error) {
	if err := raw.Validate(); err != nil {
		return nil, err
	}
	var spec bson.D
	for _, f := range indexFields {
		v := raw.Lookup(f)
		if v.Type == 0 {
			continue // absent
		}
		if v.Type == bson.TypeBoolean && !v.Boolean() {
			continue // unique: false and the like say nothing
		}
		spec = append(spec, bson.E{Key: f, Value: v})
	}
	return spec, nil
}

func indexName(spec bson.D) string {
	for _, e := range spec {
		if e.Key == "name" {
			switch v := e.Value.(type) {
			case string:
				return v
			case bson.RawValue:
				s, _ := v.StringValueOK()
				return s
			}
		}
	}
	return ""
}

// idIndex is the name of the index every collection has on _id.
const idIndex = "_id_"

// CreateIndexSpecs creates indexes from specifications as IndexSpecs
// returns them (the _id index, which every collection has, is skipped).
func (db *DB) CreateIndexSpecs(ctx context.Context, collection string, specs []bson.D) error {
	var indexes bson.A
	for _, s := range specs {
		if indexName(s) == idIndex {
			continue
		}
		indexes = append(indexes, s)
	}
	if len(indexes) == 0 {
		return nil
	}
	cmd := bson.D{{Key: "createIndexes", Value: collection}, {Key: "indexes", Value: indexes}}
	if err := db.Database.RunCommand(ctx, cmd).Err(); err != nil {
		return fmt.Errorf("database: creating the indexes of %s: %w", collection, err)
	}
	return nil
}

// CreateCollection creates an empty collection (gated like a write); one
// that exists already is no error.
func (db *DB) CreateCollection(ctx context.Context, name string) error {
	defer db.gate.Hold(ctx)()
	err := db.Database.CreateCollection(ctx, name)
	var ce mongo.CommandError
	if errors.As(err, &ce) && (ce.Name == "NamespaceExists" || ce.Code == 48) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("database: creating %s: %w", name, err)
	}
	return nil
}

// Scan calls fn with every document of the collection as raw BSON, in
// the store's natural order, streaming (the raw document is valid only
// during the call). With a context from WithSnapshot, the reads are the
// snapshot's.
func (db *DB) Scan(ctx context.Context, collection string, fn func(doc bson.Raw) error) error {
	cur, err := db.Database.Collection(collection).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return fmt.Errorf("database: reading %s: %w", collection, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("database: reading %s: %w", collection, err)
	}
	return nil
}

// Snapshot writes a point-in-time copy of the embedded store run by this
// process into dir (see SnapshotFiles), holding the write gate while the
// copy is made, so no write of this process is under way in it. It is for
// code inside the server (scheduled backups); a command uses
// SnapshotFiles.
func (db *DB) Snapshot(ctx context.Context, dir string) error {
	if db.Embedded == nil {
		return errors.New("database: only the embedded store run by this process can be copied")
	}
	defer db.gate.Hold(ctx)()
	return SnapshotFiles(ctx, db.Embedded.dir, db.Name(), dir)
}

// SnapshotFiles copies the embedded store's database name from storeDir
// (the folder of its .sqlite files) into dir with SQLite's VACUUM INTO.
// VACUUM INTO reads in one read transaction, which in SQLite is a
// consistent snapshot: the copy is the database at one moment even while
// a server writes to it. dir then holds a store StartEmbedded can run on.
func SnapshotFiles(ctx context.Context, storeDir, name, dir string) error {
	src := filepath.Join(storeDir, name+".sqlite")
	if _, err := os.Stat(src); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("database: no embedded store of database %q in %s (no %s)", name, storeDir, filepath.Base(src))
		}
		return fmt.Errorf("database: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	dst := filepath.Join(dir, name+".sqlite")
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("database: %s exists already", dst)
	}
	dsn := "file:" + (&url.URL{Path: src}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)"
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("database: copying %s: %w", filepath.Base(src), err)
	}
	return nil
}

// Name is the database's name.
func (db *DB) Name() string { return db.Database.Name() }
