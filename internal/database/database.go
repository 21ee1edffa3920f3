// Package database connects the platform to its document store: a MongoDB
// deployment when a URI is configured, otherwise FerretDB embedded in the
// process with its SQLite backend. Both are reached with the same
// mongo-driver client, so domain packages never know which one runs.
package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Options say where the store is.
type Options struct {
	// URI of a MongoDB deployment; empty means the embedded store.
	URI string
	// Database name.
	Database string
	// Dir holds the embedded store's SQLite files, its lock and its uri file.
	Dir string
	// Logger receives the store's own warnings.
	Logger *slog.Logger
	// Attach, for administrative commands: when another process (a running
	// server) holds the embedded store, connect to the address it published
	// instead of failing.
	Attach bool
	// OnCommandFailed, when set, is called for every failed database command
	// (used for the error counter in /metrics).
	OnCommandFailed func(command string)
	// OnCommand, when set, is called for every database command started,
	// with its collection ("" for commands of none): where the store's
	// time goes under load.
	OnCommand func(command, collection string)
	// OnGatedWrite, when set, is called after every write that passed this
	// process's write gate (the embedded store's own process only), with
	// how long it waited for the gate and how long it held it; other
	// processes' writes through the published address are reported under
	// the collection RelayedWrites.
	OnGatedWrite func(collection string, waited, held time.Duration)
	// OnCheckpoint, when set, is called after every checkpoint of the
	// embedded store's write-ahead log while it runs, with its mode
	// ("passive" or "truncate") and how long it took.
	OnCheckpoint func(mode string, took time.Duration)
	// NoProbe leaves the database as it is found: no probe write at
	// connection (a backup reads a snapshot; a restore checks that its
	// target is empty).
	NoProbe bool
}

// DB is an open connection to the document store.
type DB struct {
	Client   *mongo.Client
	Database *mongo.Database
	// Embedded is non-nil when this process runs the embedded FerretDB.
	Embedded *Embedded
	// Attached is true when an administrative command connected to the
	// embedded store of a running server.
	Attached bool
	// gate queues writes to the embedded store run by this process (nil
	// otherwise); every write through Collection passes it.
	gate *Gate
	// onWrite is Options.OnGatedWrite.
	onWrite func(collection string, waited, held time.Duration)
	// scans: the store is FerretDB (see FiltersScan).
	scans bool
}

// FiltersScan reports whether a find by anything but _id equality reads
// the whole collection. FerretDB v1 (embedded, or behind a URI as the
// shared store of several instances) passes only an _id equality down to
// its backend and filters every other query in Go, decoding each document
// of the collection: a learner's 43 progress records found by user_id
// cost a scan of every learner's records (measured: 70 % of the server's
// CPU under the exam load at 30 learners). Stores that read often by
// another field look documents up by their _id instead where this is
// true; MongoDB answers such filters from its indexes.
func (db *DB) FiltersScan() bool { return db.scans }

// isFerretDB asks the server's buildInfo, which FerretDB marks with a
// "ferretdbVersion" field.
func isFerretDB(ctx context.Context, client *mongo.Client) bool {
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

// Collection returns a collection of the database whose writes pass the
// write gate (see Collection for the guarantees).
func (db *DB) Collection(name string) *Collection {
	return &Collection{c: db.Database.Collection(name), gate: db.gate, onWrite: db.onWrite}
}

// SingleWriter reports whether this process is the only writer of the
// store: it runs the embedded store, which holds its data directory's
// lock. Only then may a store check an update's conditions in Go under a
// lock of its own instead of in the filter (see quiz's where).
func (db *DB) SingleWriter() bool { return db.Embedded != nil }

// Named returns the database called name on the same connection and
// behind the same gate (tests give each test a database of its own).
func (db *DB) Named(name string) *DB {
	c := *db
	c.Database = db.Client.Database(name)
	return &c
}

// Open connects to the configured store, starting the embedded one when no
// URI is given.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.URI != "" {
		return connect(ctx, o, o.URI, nil, false)
	}
	emb, err := StartEmbedded(ctx, o.Dir, o.Logger, EmbeddedHooks{Checkpoint: o.OnCheckpoint, RelayedWrite: o.OnGatedWrite})
	if errors.Is(err, ErrLocked) && o.Attach {
		uri, rerr := os.ReadFile(filepath.Join(o.Dir, "uri"))
		if rerr != nil {
			return nil, fmt.Errorf("the embedded store in %s is held by another process that has not published its address: %w", o.Dir, rerr)
		}
		return connect(ctx, o, strings.TrimSpace(string(uri)), nil, true)
	}
	if err != nil {
		return nil, err
	}
	db, err := connect(ctx, o, emb.direct, emb, false)
	if err != nil {
		emb.Stop()
		return nil, err
	}
	return db, nil
}

func connect(ctx context.Context, o Options, uri string, emb *Embedded, attached bool) (*DB, error) {
	// Defaults first, so that options given in the URI win.
	opts := options.Client().
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second).
		SetAppName("tyokyky").
		ApplyURI(uri)
	if o.OnCommandFailed != nil || o.OnCommand != nil {
		m := &event.CommandMonitor{}
		if o.OnCommandFailed != nil {
			m.Failed = func(_ context.Context, e *event.CommandFailedEvent) { o.OnCommandFailed(e.CommandName) }
		}
		if o.OnCommand != nil {
			m.Started = func(_ context.Context, e *event.CommandStartedEvent) {
				coll := ""
				if el, err := e.Command.IndexErr(0); err == nil {
					coll, _ = el.Value().StringValueOK()
				}
				o.OnCommand(e.CommandName, coll)
			}
		}
		opts.SetMonitor(m)
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("database: cannot reach %s: %w", Redact(uri), err)
	}
	db := &DB{Client: client, Database: client.Database(o.Database), Embedded: emb, Attached: attached,
		scans: emb != nil || isFerretDB(pingCtx, client)}
	if emb != nil {
		db.gate, db.onWrite = emb.gate, o.OnGatedWrite
	}
	if !attached && !o.NoProbe {
		// The readiness probe's collection is made now, while there is
		// room: FerretDB v1 leaves a half-made collection (its table
		// without its metadata) when the disk fills while it creates one,
		// and every later probe then failed, keeping /readyz at 503 after
		// room was freed.
		if err := db.ProbeWrite(ctx); err != nil {
			o.Logger.Warn("database: the first probe write failed", "err", err)
		}
	}
	return db, nil
}

// Ping checks that the store answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.Client.Ping(ctx, nil)
}

// Close disconnects and, for the embedded store, stops it.
func (db *DB) Close(ctx context.Context) error {
	err := db.Client.Disconnect(ctx)
	if db.Embedded != nil {
		db.Embedded.Stop()
	}
	return err
}

// Redact removes the password from a connection string for messages.
func Redact(uri string) string {
	at := strings.LastIndex(uri, "@")
	scheme := strings.Index(uri, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return uri
	}
	userinfo := uri[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return uri[:scheme+3] + userinfo[:i] + ":xxxxx" + uri[at:]
	}
	return uri
}
