// Package testenv starts the real services tests need: an embedded
// FerretDB and a MinIO server process, each on a free port of 127.0.0.1
// with its own temporary directory, torn down at the end. Tests use it
// from TestMain, so one package's tests share one pair of services while
// each test uses its own database name.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/media"
)

// Env is a running pair of services.
type Env struct {
	Dir   string
	DB    *database.DB
	MinIO *MinIO
}

// Start starts FerretDB and MinIO in a new temporary directory.
func Start(ctx context.Context) (*Env, error) {
	dir, err := os.MkdirTemp("", "tyokyky-test-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir}
	logger := quietLogger()
	e.MinIO, err = StartMinIO(ctx, filepath.Join(dir, "minio"))
	if err != nil {
		e.Close()
		return nil, err
	}
	e.DB, err = database.Open(ctx, database.Options{Database: "test", Dir: filepath.Join(dir, "db"), Logger: logger})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// StartDatabase starts only the embedded FerretDB, for packages that need
// no object store.
func StartDatabase(ctx context.Context) (*Env, error) {
	dir, err := os.MkdirTemp("", "tyokyky-test-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir}
	e.DB, err = database.Open(ctx, database.Options{Database: "test", Dir: filepath.Join(dir, "db"), Logger: quietLogger()})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops both services and removes the directory.
func (e *Env) Close() {
	if e.DB != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = e.DB.Close(ctx)
		cancel()
	}
	if e.MinIO != nil {
		e.MinIO.Close()
	}
	os.RemoveAll(e.Dir)
}

// Database returns a database with a fresh random name, so tests never see
// each other's data.
func (e *Env) Database() *database.DB {
	return e.DB.Named("t_" + randomHex(6))
}

// Store returns an object store client on a fresh bucket.
func (e *Env) Store(ctx context.Context) (*media.ObjectStore, error) {
	return e.MinIO.Store(ctx, "t-"+randomHex(6))
}

// MinIO is a MinIO server process that tests may stop and restart.
type MinIO struct {
	*minioproc.Process
	dir string
}

// StartMinIO runs MinIO with its data in dir on a free port.
func StartMinIO(ctx context.Context, dir string) (*MinIO, error) {
	bin, err := MinIOBin()
	if err != nil {
		return nil, err
	}
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: dir, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	return &MinIO{Process: p, dir: dir}, nil
}

// Restart stops MinIO and starts it again on the same address and data.
func (m *MinIO) Restart(ctx context.Context) error {
	m.Process.Stop(10 * time.Second)
	return m.Start(ctx)
}

// Start starts a stopped MinIO again on the same address and data.
func (m *MinIO) Start(ctx context.Context) error {
	bin, err := MinIOBin()
	if err != nil {
		return err
	}
	p, err := minioproc.Start(ctx, minioproc.Options{Bin: bin, Dir: m.dir, Addr: m.Addr, Logger: quietLogger()})
	if err != nil {
		return err
	}
	m.Process = p
	return nil
}

// Close stops MinIO.
func (m *MinIO) Close() { m.Process.Stop(10 * time.Second) }

// Store returns a client for bucket, creating the bucket.
func (m *MinIO) Store(ctx context.Context, bucket string) (*media.ObjectStore, error) {
	s, err := media.NewObjectStore(media.ObjectStoreOptions{
		Endpoint:  m.Endpoint(),
		Region:    "us-east-1",
		AccessKey: m.Credentials.AccessKey,
		SecretKey: m.Credentials.SecretKey,
		Bucket:    bucket,
	})
	if err != nil {
		return nil, err
	}
	return s, s.EnsureBucket(ctx)
}

// MinIOBin locates the MinIO binary: $TYOKYKY_MINIO_BIN, else .bin/minio
// at the module root (built by `make minio`, which `make test` runs).
func MinIOBin() (string, error) {
	if p := os.Getenv("TYOKYKY_MINIO_BIN"); p != "" {
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".bin", "minio")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("testenv: %s is missing: run `make minio` (make test does)", bin)
	}
	return bin, nil
}

// ModuleRoot is the directory holding go.mod, found from the working
// directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: go.mod not found above the working directory")
		}
		dir = parent
	}
}

func quietLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TYOKYKY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Main runs a package's tests with services started by start (Start or
// StartDatabase) and stored in *env, and exits; use it as TestMain.
func Main(m interface{ Run() int }, env **Env, start func(context.Context) (*Env, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e, err := start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test services:", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	e.Close()
	os.Exit(code)
}
