package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/tyokyky/tyokyky/internal/poll"
)

// SQLite folds its write-ahead log back into the database file only when
// no reader holds an older snapshot; under steady load there always is
// one, and the log grew to 53 MB before a graceful stop folded it (issue
// 19). checkpointWAL folds every database file's log and truncates it,
// waiting up to two seconds for readers to move on; FerretDB's writers
// wait meanwhile (their busy timeout is ten seconds), and a log that
// stays busy is tried again on the next round.
const walCheckpointEvery = 30 * time.Second

// checkpointWAL returns the total size of the logs it folded.
func checkpointWAL(ctx context.Context, dir string) (int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, f := range files {
		st, err := os.Stat(f + "-wal")
		if err != nil || st.Size() == 0 {
			continue // nothing to fold
		}
		if err := checkpointFile(ctx, f); err != nil {
			return total, fmt.Errorf("embedded store: checkpoint %s: %w", filepath.Base(f), err)
		}
		total += st.Size()
	}
	return total, nil
}

func checkpointFile(ctx context.Context, file string) error {
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?_pragma=busy_timeout(2000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var busy, logFrames, done int64
	return db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
}

// keepWALsSmall checkpoints every interval until ctx ends.
func keepWALsSmall(ctx context.Context, dir string, interval time.Duration, log *slog.Logger) {
	poll.Every(ctx, interval, log, "embedded store: checkpoint", func(ctx context.Context) error {
		_, err := checkpointWAL(ctx, dir)
		return err
	})
}
