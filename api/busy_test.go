package api_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestABusyDatabaseAsksToTryAgain holds SQLite's write lock on the test's
// database from outside FerretDB, as another writer would past the busy
// timeout: the learner's save waits, then answers 503 with Retry-After and
// a problem, counted in /metrics; sent again once the lock is free, the
// same save is kept.
func TestABusyDatabaseAsksToTryAgain(t *testing.T) {
	r := start(t)
	b := newClient(t, r.URL)
	b.register("kiire@example.fi", "Kiire Kiireinen")
	_, page := b.get("/osiot/toinen/jatko")
	token := csrfField.FindStringSubmatch(page)[1]

	ctx := context.Background()
	sq, err := sql.Open("sqlite", "file:"+filepath.Join(env.Dir, "db", r.db.Database.Name()+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	conn, err := sq.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server may be writing at that moment (its background work): the
	// lock is tried again until that write ends (failed once under a full
	// run with SQLITE_BUSY).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	resp, body := b.putJSON("/api/v1/progress/toinen/jatko", token, map[string]any{"event": "completed"})
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(body, "Try again in a moment") {
		t.Fatalf("a save behind a held lock = %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if _, m := get(t, r.URL+"/metrics"); !strings.Contains(m, "\ntyokyky_database_busy_total 1\n") {
		t.Error("the busy answer is not counted in /metrics")
	}
	if resp, body := b.putJSON("/api/v1/progress/toinen/jatko", token, map[string]any{"event": "completed"}); resp.StatusCode != 200 {
		t.Fatalf("the same save sent again = %d %s", resp.StatusCode, body)
	}
	if _, body := b.get("/api/v1/progress"); !strings.Contains(body, `"completed_at":"`) {
		t.Fatalf("the save sent again was not kept: %s", body)
	}
}
