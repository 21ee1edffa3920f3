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

	"github.com/tyokyky/tyokyky/internal/poll"
)

// SQLite folds its write-ahead log back into the database file only when
// no reader holds an older snapshot; under steady load there always is
// one, and the log grew to 53 MB before a graceful stop folded it (issue
// 19). So the store folds the logs itself, in two ways:
//
//   - A passive checkpoint every walCheckpointEvery copies what the
//     readers allow into the database file beside the writers, which go
//     on meanwhile. Once a log is folded whole, the next write starts it
//     again from its beginning, so it stops growing.
//   - A log that is still over walTruncateAbove after that (readers kept
//     it from being folded) is folded and truncated: that checkpoint
//     stops the writers while it waits (up to two seconds) for the
//     readers to move on, so it is the exception.
//
// A truncating checkpoint every 30 s was the rule before (issue 26): with
// 100,000 learners in the store each one held the writers up to two
// seconds, and the exam load's saves queued behind it.
const (
	walCheckpointEvery = 10 * time.Second
	walTruncateAbove   = 64 << 20
)

// checkpointWAL folds and truncates every database file's log (at start,
// before anything reads the files) and returns the total size folded.
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
		if _, err := checkpointFile(ctx, f, "TRUNCATE"); err != nil {
			return total, fmt.Errorf("embedded store: checkpoint %s: %w", filepath.Base(f), err)
		}
		total += st.Size()
	}
	return total, nil
}

// checkpointFile checkpoints one file's log in mode (PASSIVE or TRUNCATE)
// and reports whether readers or writers kept part of it from being folded.
func checkpointFile(ctx context.Context, file, mode string) (busy bool, err error) {
	dsn := "file:" + (&url.URL{Path: file}).EscapedPath() + "?_pragma=busy_timeout(2000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return false, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var blocked, logFrames, done int64
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&blocked, &logFrames, &done); err != nil {
		return false, err
	}
	return blocked != 0 || done < logFrames, nil
}

// walKeeper folds the logs while the store runs (see walCheckpointEvery).
// It remembers each log's size and time after its last fold, and leaves a
// log that has not changed since alone (a test package makes hundreds of
// database files).
type walKeeper struct {
	dir     string
	seen    map[string]fileStamp
	observe func(mode string, took time.Duration) // nil: nobody asks
	// truncateAbove is walTruncateAbove (tests lower it).
	truncateAbove int64
}

func (k *walKeeper) pass(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(k.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	if k.seen == nil {
		k.seen = map[string]fileStamp{}
	}
	for _, f := range files {
		st := stampOf(f)
		if st.walSize == 0 || k.seen[f] == st {
			continue
		}
		busy, err := k.fold(ctx, f, "PASSIVE")
		if err != nil {
			return err
		}
		if fi, err := os.Stat(f + "-wal"); err == nil && fi.Size() > k.truncateAbove {
			if busy, err = k.fold(ctx, f, "TRUNCATE"); err != nil {
				return err
			}
		}
		if !busy { // a log readers kept is tried again, changed or not
			k.seen[f] = stampOf(f)
		}
	}
	return nil
}

func (k *walKeeper) fold(ctx context.Context, file, mode string) (busy bool, err error) {
	began := time.Now()
	busy, err = checkpointFile(ctx, file, mode)
	if err != nil {
		return false, fmt.Errorf("embedded store: checkpoint (%s) %s: %w", mode, filepath.Base(file), err)
	}
	if k.observe != nil {
		k.observe(strings.ToLower(mode), time.Since(began))
	}
	return busy, nil
}

// keepWALsSmall folds the logs every interval until ctx ends.
func keepWALsSmall(ctx context.Context, dir string, interval time.Duration, log *slog.Logger, observe func(string, time.Duration)) {
	k := &walKeeper{dir: dir, observe: observe, truncateAbove: walTruncateAbove}
	poll.Every(ctx, interval, log, "embedded store: checkpoint", k.pass)
}
