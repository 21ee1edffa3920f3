package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB registers, named here because this file opens the files too

	"github.com/tyokyky/tyokyky/internal/poll"
)

// FerretDB v1.24's SQLite backend finds a document by _id with the
// expression _ferretdb_sjson->'$._id', while the unique index it creates
// for _id is on _ferretdb_sjson->"_id". SQLite uses an expression index
// only for the identical expression, so every lookup by _id scans the
// whole table and parses each document's JSON: a session, a user or an
// exam answer costs time in proportion to the size of its collection
// (measured: 77 % of the server's CPU under the exam load test went to
// json_extract). indexIDs adds, to every collection's table, a plain index
// on the expression the queries use; SQLite then searches it. FerretDB's
// own metadata does not list it, and dropping the collection drops it.
//
// The index is not unique (FerretDB's own index enforces uniqueness, so
// errors stay exactly as FerretDB reports them).
const idIndexSuffix = "__tyokyky_id_lookup"

// indexIDs gives every collection table of every database file in dir the
// lookup index. It returns how many indexes it created.
func indexIDs(ctx context.Context, dir string) (int, error) { return (&idIndexer{}).pass(ctx, dir) }

// idIndexer remembers, for each database file it has indexed, the file's
// and its write-ahead log's size and modification time then: a file whose
// stamp has not changed since has no new table, and is not opened again.
// (Opening a file reads its whole schema: with hundreds of databases, as
// a test package makes, passes that opened every file every few seconds
// kept a core busy.)
type idIndexer struct {
	seen map[string]fileStamp
	// index indexes one file (nil: indexIDsIn; a test counts the opens).
	index func(ctx context.Context, file string) (int, error)
}

type fileStamp struct {
	size, walSize int64
	mod, walMod   time.Time
}

func stampOf(file string) fileStamp {
	var st fileStamp
	if fi, err := os.Stat(file); err == nil {
		st.size, st.mod = fi.Size(), fi.ModTime()
	}
	if fi, err := os.Stat(file + "-wal"); err == nil {
		st.walSize, st.walMod = fi.Size(), fi.ModTime()
	}
	return st
}

func (x *idIndexer) pass(ctx context.Context, dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return 0, err
	}
	if x.seen == nil {
		x.seen = map[string]fileStamp{}
	}
	created := 0
	for _, f := range files {
		st := stampOf(f) // before reading: a table made meanwhile changes it
		if old, ok := x.seen[f]; ok && old == st {
			continue
		}
		index := x.index
		if index == nil {
			index = indexIDsIn
		}
		n, err := index(ctx, f)
		created += n
		if err != nil {
			return created, fmt.Errorf("embedded store: index %s: %w", filepath.Base(f), err)
		}
		x.seen[f] = st
	}
	return created, nil
}

func indexIDsIn(ctx context.Context, file string) (int, error) {
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\_ferretdb\_%' ESCAPE '\'
		AND name NOT IN (SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE '%' || ?)`, idIndexSuffix)
	if err != nil {
		return 0, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	created := 0
	for _, t := range tables {
		if strings.ContainsRune(t, '"') { // FerretDB's table names never do; refuse rather than quote
			continue
		}
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS "%s%s" ON "%s" (_ferretdb_sjson->'$._id')`, t, idIndexSuffix, t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return created, fmt.Errorf("%s: %w", t, err)
		}
		created++
	}
	return created, nil
}

// keepIDsIndexed runs indexIDs at once and then every interval until ctx
// ends, so that collections created later get their index soon.
func keepIDsIndexed(ctx context.Context, dir string, interval time.Duration, log *slog.Logger) {
	var x idIndexer
	job := func(ctx context.Context) error {
		_, err := x.pass(ctx, dir)
		return err
	}
	if err := job(ctx); err != nil && ctx.Err() == nil {
		log.Warn("embedded store: lookup index", "err", err)
	}
	poll.Every(ctx, interval, log, "embedded store: lookup index", job)
}
