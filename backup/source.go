package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tyokyky/tyokyky/internal/database"
)

// Source is the document store a backup reads, at one point in time
// where the deployment allows it.
type Source struct {
	db *database.DB
	// Kind is database.KindEmbedded or database.KindMongoDB.
	Kind string
	// Snapshot: the documents are read at one point in time.
	Snapshot bool
	// NoSnapshotWhy says why there is no snapshot (when Snapshot is false).
	NoSnapshotWhy string
	// session: reads run in a snapshot session (MongoDB).
	session bool
	close   func()
}

// SourceOptions say where the store is.
type SourceOptions struct {
	// URI of a MongoDB deployment; empty means the embedded store whose
	// SQLite files are in StoreDir.
	URI      string
	Database string
	StoreDir string
	// Live, when set, is the store this process has open (a backup run
	// inside the server): the embedded store is copied under its write
	// gate, a MongoDB is read through its connection.
	Live *database.DB
	// WorkDir receives the embedded store's point-in-time copy for the
	// backup's duration (it needs room for the whole database).
	WorkDir string
	// NoSnapshot accepts a deployment that cannot give a snapshot.
	NoSnapshot bool
	Logger     *slog.Logger
}

// OpenSource prepares a consistent read of the store. The embedded store
// is copied with SQLite's VACUUM INTO (a point in time even while a
// server writes) and a second embedded FerretDB is started on the copy;
// a MongoDB deployment is read in a snapshot session, and one that cannot
// give a snapshot is refused unless NoSnapshot.
func OpenSource(ctx context.Context, o SourceOptions) (*Source, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	embedded := o.URI == "" && (o.Live == nil || o.Live.Embedded != nil)
	if embedded {
		return openCopy(ctx, o)
	}
	db := o.Live
	close := func() {}
	if db == nil {
		var err error
		db, err = database.Open(ctx, database.Options{URI: o.URI, Database: o.Database, Logger: o.Logger, NoProbe: true})
		if err != nil {
			return nil, err
		}
		close = func() { db.Close(context.Background()) }
	}
	s := &Source{db: db, Kind: database.KindMongoDB, close: close}
	err := db.CanSnapshot(ctx)
	switch {
	case err == nil:
		s.Snapshot, s.session = true, true
	case errors.Is(err, database.ErrNoSnapshot) && o.NoSnapshot:
		s.NoSnapshotWhy = err.Error()
	case errors.Is(err, database.ErrNoSnapshot):
		close()
		return nil, fmt.Errorf("%w; --no-snapshot backs it up without one, but then writes made during the backup may be in it in part", err)
	default:
		close()
		return nil, err
	}
	return s, nil
}

func openCopy(ctx context.Context, o SourceOptions) (*Source, error) {
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if err := os.MkdirAll(o.WorkDir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	removeStaleCopies(o.WorkDir, o.Logger)
	dir, err := os.MkdirTemp(o.WorkDir, copyPrefix)
	if err != nil {
		return nil, fmt.Errorf("backup: a folder for the store's copy: %w", err)
	}
	if o.Live != nil {
		err = o.Live.Snapshot(ctx, dir)
	} else {
		err = database.SnapshotFiles(ctx, o.StoreDir, o.Database, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	name := o.Database
	if o.Live != nil {
		name = o.Live.Name()
	}
	db, err := database.Open(ctx, database.Options{Database: name, Dir: dir, Logger: o.Logger, NoProbe: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("backup: starting a store on the copy: %w", err)
	}
	return &Source{db: db, Kind: database.KindEmbedded, Snapshot: true, close: func() {
		db.Close(context.Background())
		os.RemoveAll(dir)
	}}, nil
}

// copyPrefix names the folders of the embedded store's copies.
const copyPrefix = ".backup-snapshot-"

// removeStaleCopies removes copies left by backups that were killed: a
// copy lives only while its backup runs, so one a day old is left over.
func removeStaleCopies(dir string, log *slog.Logger) {
	old, _ := filepath.Glob(filepath.Join(dir, copyPrefix+"*"))
	for _, d := range old {
		if st, err := os.Stat(d); err == nil && st.IsDir() && time.Since(st.ModTime()) > 24*time.Hour {
			log.Info("backup: removing the copy a killed backup left", "dir", d)
			os.RemoveAll(d)
		}
	}
}

// Close releases the source (and removes the embedded store's copy).
func (s *Source) Close() {
	if s.close != nil {
		s.close()
		s.close = nil
	}
}

// read runs fn with a context whose document reads are the snapshot's.
func (s *Source) read(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.session {
		return s.db.WithSnapshot(ctx, fn)
	}
	return fn(ctx)
}

// DatabaseName is the name of the database read.
func (s *Source) DatabaseName() string { return s.db.Name() }
