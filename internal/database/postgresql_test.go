package database

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestFerretDBOnPostgreSQL runs the embedded FerretDB with its PostgreSQL
// handler, to prove that FerretDB's dependencies (pgx above all) still work
// after an upgrade. It needs a PostgreSQL server, so it runs only when
// TYOKYKY_TEST_POSTGRESQL_URL names an existing database, e.g.
// postgres://postgres@127.0.0.1:5432/ferretdb; make test skips it.
func TestFerretDBOnPostgreSQL(t *testing.T) {
	pgURL := os.Getenv("TYOKYKY_TEST_POSTGRESQL_URL")
	if pgURL == "" {
		t.Skip("TYOKYKY_TEST_POSTGRESQL_URL is not set; no PostgreSQL to run FerretDB on")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:       "postgresql",
		PostgreSQLURL: pgURL,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx)
	}()
	defer func() { stop(); <-done }()

	client, err := mongo.Connect(options.Client().ApplyURI(f.MongoDBURI()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())

	db := client.Database("tyokyky_pgcheck_" + time.Now().Format("150405"))
	defer db.Drop(context.Background())
	coll := db.Collection("users")

	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("unique index: %v", err)
	}
	// A value with dollar quotes and a placeholder-like text goes through
	// pgx's parameters intact (GO-2026-5004 was about such strings).
	tricky := "$$ $1 '; DROP TABLE x; --"
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "email", Value: "a@example.org"}, {Key: "name", Value: tricky}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "u2"}, {Key: "email", Value: "a@example.org"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert with the same email: got %v, want a duplicate key error", err)
	}

	var got struct {
		Email  string `bson:"email"`
		Name   string `bson:"name"`
		Logins int    `bson:"logins"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "email", Value: "a@example.org"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.Name != tricky {
		t.Fatalf("name = %q, want %q", got.Name, tricky)
	}

	res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "u1"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "logins", Value: 1}}}})
	if err != nil || res.ModifiedCount != 1 {
		t.Fatalf("update: %v, %+v", err, res)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Decode(&got); err != nil {
		t.Fatalf("find after update: %v", err)
	}
	if got.Logins != 1 {
		t.Fatalf("logins = %d, want 1", got.Logins)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "u2"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("the refused duplicate was stored: %v", err)
	}
	n, err := coll.CountDocuments(ctx, bson.D{})
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
}
