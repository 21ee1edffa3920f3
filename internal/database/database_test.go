package database

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEmbeddedStoreOneProcessPerDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "db")
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	server, err := Open(ctx, Options{Dir: dir, Database: "tk", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if server.Embedded == nil {
		t.Fatal("no embedded store started")
	}
	published, err := os.ReadFile(filepath.Join(dir, "uri"))
	if err != nil || strings.TrimSpace(string(published)) != server.Embedded.URI() {
		t.Fatalf("published uri = %q (%v), want %q", published, err, server.Embedded.URI())
	}
	if _, err := server.Database.Collection("c").InsertOne(ctx, bson.M{"_id": "x", "v": 1}); err != nil {
		t.Fatal(err)
	}

	// A second server on the same directory is refused.
	if _, err := Open(ctx, Options{Dir: dir, Database: "tk", Logger: logger}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second embedded store on one directory: err = %v, want ErrLocked", err)
	}

	// An administrative command attaches to the running store.
	admin, err := Open(ctx, Options{Dir: dir, Database: "tk", Logger: logger, Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	if !admin.Attached || admin.Embedded != nil {
		t.Fatalf("admin connection: attached=%v embedded=%v", admin.Attached, admin.Embedded != nil)
	}
	// Both know they talk to FerretDB, the attached one from buildInfo.
	if !server.FiltersScan() || !admin.FiltersScan() {
		t.Errorf("FiltersScan: embedded %v, attached %v; want both true", server.FiltersScan(), admin.FiltersScan())
	}
	var doc bson.M
	if err := admin.Database.Collection("c").FindOne(ctx, bson.M{"_id": "x"}).Decode(&doc); err != nil {
		t.Fatalf("admin reads the server's data: %v", err)
	}
	if err := admin.Close(ctx); err != nil {
		t.Logf("admin close: %v", err)
	}

	if err := server.Close(ctx); err != nil {
		t.Logf("close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "uri")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("uri file left after stop: %v", err)
	}

	// With no server running, an administrative command starts the store
	// itself and sees the data written before.
	own, err := Open(ctx, Options{Dir: dir, Database: "tk", Logger: logger, Attach: true})
	if err != nil {
		t.Fatal(err)
	}
	if own.Embedded == nil || own.Attached {
		t.Fatal("admin command did not start its own store when none was running")
	}
	if err := own.Database.Collection("c").FindOne(ctx, bson.M{"_id": "x"}).Decode(&doc); err != nil {
		t.Fatalf("data survives a restart: %v", err)
	}
	_ = own.Close(ctx)

	// FerretDB's own output reaches the log only at warning level and above,
	// and never as wire dumps.
	out := logs.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "component=ferretdb") && (strings.Contains(line, "level=DEBUG") || strings.Contains(line, "level=INFO")) {
			t.Errorf("FerretDB below warning level reached the log: %s", line)
		}
	}
	if strings.Contains(out, "Response message") || strings.Contains(out, "Request message") {
		t.Errorf("FerretDB wire dumps reached the log:\n%s", out)
	}
}

func TestOpenReportsUnreachableMongoDB(t *testing.T) {
	_, err := Open(context.Background(), Options{URI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", Database: "x"})
	if err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mongodb://user:secret@db:27017/x": "mongodb://user:xxxxx@db:27017/x",
		"mongodb://db:27017":               "mongodb://db:27017",
		"mongodb://user@db":                "mongodb://user@db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// Lookups by _id on the embedded store use an index: without the lookup
// index SQLite scans the table (FerretDB's own _id index is on another
// expression), and every lookup grows with the collection.
func TestEmbeddedLookupsByIDUseAnIndex(t *testing.T) {
	ctx := context.Background()
	db, dir := openEmbedded(t)
	c := db.Database.Collection("things")
	docs := make([]any, 500)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("id-%04d", i)}, {Key: "n", Value: i}}
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	plan := func() string {
		sq, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tk.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer sq.Close()
		var table string
		if err := sq.QueryRow(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'things%'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		// The query FerretDB v1.24 runs for {_id: "…"}.
		rows, err := sq.Query(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "`+table+`" WHERE _ferretdb_sjson->'$._id' = ?`, `"id-0007"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	// The keeper indexes new collections within its interval.
	deadline := time.Now().Add(3 * idIndexEvery)
	for !strings.Contains(plan(), idIndexSuffix) {
		if time.Now().After(deadline) {
			t.Fatalf("lookups by _id do not use the lookup index: %s", plan())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n, err := indexIDs(ctx, dir); err != nil || n != 0 {
		t.Fatalf("a second pass = %d, %v; want nothing to do", n, err)
	}
	// Reads and the uniqueness of _id behave as before.
	var got struct{ N int }
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: "id-0420"}}).Decode(&got); err != nil || got.N != 420 {
		t.Fatalf("find by id = %+v, %v", got, err)
	}
	if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: "id-0001"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("a duplicate _id = %v, want E11000", err)
	}
}

// TestWALIsCheckpointedAndTruncated: after a burst of writes the log is
// folded into the database and cut to nothing, and the data reads back.
func TestWALIsCheckpointedAndTruncated(t *testing.T) {
	ctx := context.Background()
	db, dir := openEmbedded(t)
	c := db.Database.Collection("wal")
	payload := strings.Repeat("työkyky ", 128)
	for i := range 40 {
		docs := make([]any, 50)
		for j := range docs {
			docs[j] = bson.D{{Key: "_id", Value: fmt.Sprintf("%02d-%02d", i, j)}, {Key: "p", Value: payload}}
		}
		if _, err := c.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	wal := filepath.Join(dir, "tk.sqlite-wal")
	st, err := os.Stat(wal)
	if err != nil || st.Size() < 1<<20 {
		t.Fatalf("write-ahead log after 2,000 writes: %v %v", st, err)
	}
	before := st.Size()
	if _, err := checkpointWAL(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(wal); err == nil && st.Size() != 0 {
		t.Fatalf("write-ahead log %d bytes after the checkpoint (was %d)", st.Size(), before)
	}
	t.Logf("write-ahead log %d bytes before the checkpoint, 0 after", before)
	if n, err := c.CountDocuments(ctx, bson.D{}); err != nil || n != 2000 {
		t.Fatalf("after the checkpoint: %d documents, %v", n, err)
	}
}

// A pass of the lookup indexer opens only the database files written
// since its last pass, and a collection made later is still indexed.
func TestTheLookupIndexerOpensOnlyChangedFiles(t *testing.T) {
	ctx := context.Background()
	db, dir := openEmbedded(t)
	for _, name := range []string{"other1", "other2"} {
		if _, err := db.Named(name).Database.Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	opened := map[string]int{}
	// The first passes index the new tables (and see the files their own
	// indexes changed once more); then an unchanged folder opens nothing.
	x := idIndexer{index: func(ctx context.Context, f string) (int, error) {
		opened[filepath.Base(f)]++
		return indexIDsIn(ctx, f)
	}}
	for range 2 {
		if _, err := x.pass(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	if opened["other1.sqlite"] == 0 || opened["other2.sqlite"] == 0 {
		t.Fatalf("the first passes opened %v", opened)
	}
	clear(opened)
	if n, err := x.pass(ctx, dir); err != nil || n != 0 || len(opened) != 0 {
		t.Fatalf("a pass over unchanged files opened %v (%d indexes, %v)", opened, n, err)
	}
	if _, err := db.Named("other2").Database.Collection("later").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.pass(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if opened["other1.sqlite"] != 0 || opened["other2.sqlite"] != 1 {
		t.Fatalf("after a new collection the pass opened %v; want other2 alone", opened)
	}
	// The new collection has its index (made by this pass or by the
	// store's own indexer, which runs beside it).
	if n, err := indexIDsIn(ctx, filepath.Join(dir, "other2.sqlite")); err != nil || n != 0 {
		t.Fatalf("the new collection's table had no lookup index: %d made now, %v", n, err)
	}
}

// rawConn is a connection of its own to the embedded store's database
// file "tk" in dir, past FerretDB: to hold SQLite's locks and snapshots
// as another process would. It is closed when the test ends.
func rawConn(t *testing.T, dir string) *sql.Conn {
	t.Helper()
	sq, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tk.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sq.Conn(context.Background())
	if err != nil {
		sq.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); sq.Close() })
	return conn
}

// openEmbedded opens an embedded store with the database "tk" in a new
// folder, closed when the test ends.
func openEmbedded(t *testing.T) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(context.Background(), Options{Dir: dir, Database: "tk"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return db, dir
}

// The running store's folds of the write-ahead log do not wait for
// readers: a log that a reader's snapshot keeps is left for a later pass,
// which folds it once the reader is done; after a whole fold the log is
// written again from its beginning instead of growing; and only a log
// over the limit is truncated, the writers waiting.
func TestTheLogIsFoldedBesideReadersAndWriters(t *testing.T) {
	ctx := context.Background()
	db, dir := openEmbedded(t)
	c := db.Database.Collection("wal")
	payload := strings.Repeat("työkyky ", 128)
	write := func(from int) {
		t.Helper()
		docs := make([]any, 500)
		for j := range docs {
			docs[j] = bson.D{{Key: "_id", Value: fmt.Sprintf("%05d", from+j)}, {Key: "p", Value: payload}}
		}
		if _, err := c.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	file := filepath.Join(dir, "tk.sqlite")

	// A reader holds the snapshot from before the next writes.
	reader := rawConn(t, dir)
	if _, err := reader.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		write(500 * i)
	}
	var modes []string
	k := &walKeeper{dir: dir, truncateAbove: walTruncateAbove, observe: func(mode string, _ time.Duration) { modes = append(modes, mode) }}
	if err := k.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.seen[file]; ok || len(modes) != 1 || modes[0] != "passive" {
		t.Fatalf("with a reader on an old snapshot: folds %v, log marked done %v", modes, ok)
	}
	if _, err := reader.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	reader.Close()

	// The reader is done: the next pass folds the whole log.
	if err := k.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.seen[file]; !ok {
		t.Fatalf("the log was not folded whole once the reader was done (folds %v)", modes)
	}
	wal, err := os.Stat(file + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Folded whole, the log is written again from its start: as much
	// again leaves the file as it was.
	for i := 5; i <= 8; i++ {
		write(500 * i)
	}
	if again, err := os.Stat(file + "-wal"); err != nil || again.Size() > wal.Size() {
		t.Fatalf("the log grew from %d to %v bytes after a whole fold (%v)", wal.Size(), again, err)
	}

	// Over the limit, the log is truncated.
	modes = nil
	k.truncateAbove = 0
	if err := k.pass(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(file + "-wal"); err != nil || st.Size() != 0 || fmt.Sprint(modes) != "[passive truncate]" {
		t.Fatalf("over the limit: folds %v, log %v (%v)", modes, st, err)
	}
	if n, err := c.CountDocuments(ctx, bson.D{}); err != nil || n != 4500 {
		t.Fatalf("after the folds: %d documents, %v", n, err)
	}
}
