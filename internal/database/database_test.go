package database

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
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
