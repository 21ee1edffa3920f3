package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// ErrLocked means another process runs the embedded store on the directory.
var ErrLocked = errors.New("embedded store is in use by another process")

// Embedded is a FerretDB instance running inside this process on SQLite.
type Embedded struct {
	dir    string
	uri    string // published: the relay, which gates other processes' writes
	direct string // FerretDB itself, for this process (whose writes pass gate in Go)
	gate   *Gate
	relay  chan struct{} // closed when the relay stops
	lock   *os.File
	cancel context.CancelFunc
	done   chan struct{}
	idx    chan struct{} // closed when the lookup-index keeper stops
	wal    chan struct{} // closed when the checkpointer stops
	once   sync.Once
}

// StartEmbedded starts FerretDB with its SQLite files in dir, listening on a
// free port of 127.0.0.1, and publishes its address in dir/uri so that
// administrative commands can reach it while the server runs. An exclusive
// lock on dir/lock guarantees that only one process ever opens the SQLite
// files. hooks, each optional, are told of the store's work.
func StartEmbedded(ctx context.Context, dir string, logger *slog.Logger, hooks EmbeddedHooks) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(abs, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, abs)
		}
		return nil, fmt.Errorf("embedded store: lock %s: %w", abs, err)
	}

	// A log left by a process that was killed is folded before anything
	// reads the files, so that the first requests do not pay for it.
	if n, err := checkpointWAL(ctx, abs); err != nil {
		logger.Warn("embedded store: folding the write-ahead log", "err", err)
	} else if n > 0 {
		logger.Info("embedded store: folded the write-ahead log left by the last run", "bytes", n)
	}

	sqliteURL := "file:" + (&url.URL{Path: abs + "/"}).EscapedPath()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
		Logger:    slog.New(warnOnly{logger.Handler().WithAttrs([]slog.Attr{slog.String("component", "ferretdb")})}),
	})
	if err != nil {
		unlock(lock)
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{dir: abs, lock: lock, cancel: cancel, done: make(chan struct{}), idx: make(chan struct{}), wal: make(chan struct{}),
		relay: make(chan struct{}), gate: &Gate{}}
	go func() {
		defer close(e.done)
		_ = f.Run(runCtx)
	}()
	go func() {
		defer close(e.idx)
		keepIDsIndexed(runCtx, abs, idIndexEvery, logger)
	}()
	go func() {
		defer close(e.wal)
		keepWALsSmall(runCtx, abs, walCheckpointEvery, logger, hooks.Checkpoint)
	}()
	e.direct = f.MongoDBURI()
	backend, err := url.Parse(e.direct)
	var ln net.Listener
	if err == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		close(e.relay)
		e.Stop()
		return nil, fmt.Errorf("embedded store: relay: %w", err)
	}
	go func() {
		defer close(e.relay)
		relay(runCtx, ln, backend.Host, e.gate, hooks.RelayedWrite)
	}()
	shared := *backend
	shared.Host = ln.Addr().String()
	e.uri = shared.String()
	// FerretDB's own address too, past the gate: for tests that race
	// instances as they meet on MongoDB, where no gate serializes them.
	if err := writeFileAtomic(filepath.Join(abs, UngatedURIFile), []byte(e.direct+"\n")); err != nil {
		e.Stop()
		return nil, fmt.Errorf("embedded store: publish address: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(abs, "uri"), []byte(e.uri+"\n")); err != nil {
		e.Stop()
		return nil, fmt.Errorf("embedded store: publish address: %w", err)
	}
	return e, nil
}

// EmbeddedHooks are told of the embedded store's own work (for metrics).
type EmbeddedHooks struct {
	// Checkpoint: a checkpoint of the write-ahead log made while the
	// store runs, its mode ("passive" or "truncate") and how long it took.
	Checkpoint func(mode string, took time.Duration)
	// RelayedWrite: a write of another process that passed the published
	// address's gate (collection RelayedWrites), how long it waited for
	// the gate and how long it held it.
	RelayedWrite func(collection string, waited, held time.Duration)
}

// UngatedURIFile, in the embedded store's folder, holds FerretDB's own
// address, which other processes' writes reach without passing the write
// gate (dir/uri holds the gated one). Only tests use it.
const UngatedURIFile = "uri.ungated"

// idIndexEvery is how often new collections are given their lookup index.
const idIndexEvery = 5 * time.Second

// URI is the embedded store's mongodb:// address for other processes
// (published in dir/uri): a relay whose write commands pass the gate of
// this process's writes (see relay).
func (e *Embedded) URI() string { return e.uri }

// Stop shuts FerretDB down, withdraws its published address and releases
// the lock. It is safe to call more than once.
func (e *Embedded) Stop() {
	e.once.Do(func() {
		e.cancel()
		<-e.done
		<-e.idx
		<-e.wal
		<-e.relay
		os.Remove(filepath.Join(e.dir, "uri"))
		os.Remove(filepath.Join(e.dir, UngatedURIFile))
		unlock(e.lock)
	})
}

func unlock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// warnOnly passes on records at warning level and above: FerretDB's debug
// and info output never reaches the console. FerretDB also logs the wire
// dump of a failed command (e.g. the driver's endSessions, which v1 does
// not implement) at warning level; such dumps are dropped too.
type warnOnly struct{ h slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.h.Enabled(ctx, l)
}

func (w warnOnly) Handle(ctx context.Context, r slog.Record) error {
	if isWireDump(r.Message) {
		return nil
	}
	return w.h.Handle(ctx, r)
}

func (w warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{w.h.WithAttrs(a)} }
func (w warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{w.h.WithGroup(n)} }

func isWireDump(msg string) bool {
	for _, p := range []string{"Request header", "Request message", "Response header", "Response message"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
