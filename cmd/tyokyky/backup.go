package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tyokyky/tyokyky/backup"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/media"
)

const backupUsage = `Usage:
  tyokyky backup [--out FILE|DIR|s3://bucket/prefix] [--include-key-files] [--no-snapshot] [flags]
                          take a backup: every collection with its indexes, every object of
                          the bucket, the private key files on request, and a manifest, in one
                          .tar.zst (default: tyokyky-backup-<UTC time>.tar.zst in this folder)
  tyokyky backup verify FILE
                          read a whole backup and check every entry against its manifest
  tyokyky restore FILE [--mongodb-uri URI | --data-dir DIR] [--s3-endpoint URL ...] [--force] [flags]
                          restore a backup into an empty database, bucket and key folder
                          (--force replaces what they hold, after saying what)

The backup reads the embedded store from a point-in-time copy, also while
a server runs, and MongoDB in a snapshot session (a 5.0+ replica set;
--no-snapshot accepts a deployment without one). Restore checks the whole
archive before it writes anything.
`

// commandArgs splits a command's arguments into positional ones, the
// boolean flags named in bools (set when given) and configuration flags
// with their values.
func commandArgs(args []string, bools map[string]*bool) (positional, configArgs []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if b, ok := bools[name]; ok && strings.HasPrefix(a, "-") {
			*b = true
			continue
		}
		switch {
		case strings.HasPrefix(a, "-"):
			configArgs = append(configArgs, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				configArgs = append(configArgs, args[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	return positional, configArgs
}

// commandContext ends at SIGINT or SIGTERM, so that a stopped backup
// removes its partial archive.
func commandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func backupCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return verifyBackupCmd(args[1:], stdout, stderr)
	}
	own, rest, err := takeFlags(args, "out")
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: %v\n%s", err, backupUsage)
		return exitUsage
	}
	var includeKeys, noSnapshot bool
	positional, configArgs := commandArgs(rest, map[string]*bool{"include-key-files": &includeKeys, "no-snapshot": &noSnapshot})
	if len(positional) > 0 {
		fmt.Fprintf(stderr, "tyokyky: backup: unexpected argument %q\n%s", positional[0], backupUsage)
		return exitUsage
	}
	cfg, code := loadConfig("backup", configArgs, getenv, stderr)
	if cfg == nil {
		return code
	}
	log := cfg.Logger(stderr)
	ctx, stop := commandContext()
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tyokyky: backup: %v\n", err)
		return exitFailure
	}
	warn := func(msg string) { fmt.Fprintf(stderr, "tyokyky: backup: warning: %s\n", msg) }
	started := time.Now()

	// The cheap refusals first: an archive that cannot be written, a
	// store that is not there.
	bucket, _, isS3, err := backup.ParseS3(own["out"])
	if err != nil {
		return fail(err)
	}
	if isS3 && bucket == cfg.S3Bucket {
		return fail(fmt.Errorf("%s: the backup would be stored in the bucket it backs up (%s); choose another bucket", own["out"], bucket))
	}
	var out backup.Output
	if !isS3 {
		spec := own["out"]
		if spec == "" {
			spec = "."
		}
		if out, err = backup.CreateFile(spec, started); err != nil {
			return fail(err)
		}
	}
	abort := func(err error) int {
		if out != nil {
			out.Abort()
		}
		return fail(err)
	}
	src, err := backup.OpenSource(ctx, backup.SourceOptions{URI: cfg.MongoURI, Database: cfg.MongoDatabase, StoreDir: cfg.DBDir(),
		WorkDir: cfg.DataDir, NoSnapshot: noSnapshot, Logger: log})
	if err != nil {
		return abort(err)
	}
	defer src.Close()
	if !src.Snapshot {
		warn(fmt.Sprintf("no snapshot (%s): documents written while the backup runs may be in it in part; the manifest says \"snapshot\": false", src.NoSnapshotWhy))
	}

	storeOpts, minio, err := objectStoreOptions(ctx, cfg, log)
	if err != nil {
		return abort(err)
	}
	if minio != nil {
		defer minio.Stop(10 * time.Second)
	}
	objects, err := media.NewObjectStore(storeOpts)
	if err == nil {
		err = objects.EnsureBucket(ctx)
	}
	if err != nil {
		return abort(fmt.Errorf("the object store at %s: %w", storeOpts.Endpoint, err))
	}
	if isS3 {
		if out, err = s3Output(ctx, own["out"], storeOpts, started); err != nil {
			return fail(err)
		}
	}
	o := backup.Options{Objects: objects, AppVersion: versionString(), Warn: warn}
	keyDir := cfg.CertKeyFolder()
	keyFiles, err := backup.KeyFiles(keyDir)
	if err != nil {
		return abort(err)
	}
	switch {
	case includeKeys:
		o.KeyDir = keyDir
	case len(keyFiles) > 0:
		o.KeyFilesLeftOut = len(keyFiles)
		warn(fmt.Sprintf("the %d private key files in %s are not in the backup (--include-key-files adds them): a platform restored from it signs with a new key, and the certificates issued before stay verifiable", len(keyFiles), keyDir))
	}
	counted := &countingWriter{w: out}
	m, err := backup.Write(ctx, counted, src, o)
	if err == nil {
		err = out.Commit(ctx)
	} else {
		out.Abort()
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("stopped; the partial archive was removed (%w)", err)
		}
		return fail(err)
	}
	secs := max(time.Since(started).Seconds(), 0.001)
	data := m.Counts.ObjectBytes
	for _, c := range m.Collections {
		for _, p := range c.Parts {
			data += p.Size
		}
	}
	how := "a point-in-time copy of the embedded store"
	if m.Source == database.KindMongoDB {
		how = "MongoDB in a snapshot session"
		if !m.Snapshot {
			how = "MongoDB without a snapshot"
		}
	}
	fmt.Fprintf(stdout, "backup written to %s (%s)\n", out.Name(), media.FormatSize(counted.n))
	fmt.Fprintf(stdout, "  %d collections, %d documents; %d objects (%s); %d key files; schema version %d; read from %s\n",
		m.Counts.Collections, m.Counts.Documents, m.Counts.Objects, media.FormatSize(m.Counts.ObjectBytes), m.Counts.KeyFiles, m.SchemaVersion, how)
	fmt.Fprintf(stdout, "  %.1f s: %.1f MB/s, %.0f documents/s\n", secs, float64(data)/1e6/secs, float64(m.Counts.Documents)/secs)
	return exitOK
}

// s3Output starts an archive at s3://bucket/prefix on the configured
// object store.
func s3Output(ctx context.Context, spec string, storeOpts media.ObjectStoreOptions, now time.Time) (backup.Output, error) {
	bucket, prefix, _, err := backup.ParseS3(spec)
	if err != nil {
		return nil, err
	}
	storeOpts.Bucket = bucket
	target, err := media.NewObjectStore(storeOpts)
	if err != nil {
		return nil, err
	}
	if err := target.EnsureBucket(ctx); err != nil {
		return nil, err
	}
	return backup.CreateS3(ctx, target, backup.S3Key(prefix, now))
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func verifyBackupCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, backupUsage)
		return exitUsage
	}
	file := args[0]
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "tyokyky: backup verify: %v\n", err)
		return exitFailure
	}
	defer f.Close()
	started := time.Now()
	rep := backup.Verify(f)
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stderr, "tyokyky: backup verify: %s: %d problems\n", file, len(rep.Problems))
		return exitFailure
	}
	m := rep.Manifest
	secs := max(time.Since(started).Seconds(), 0.001)
	snapshot := "a snapshot"
	if !m.Snapshot {
		snapshot = "no snapshot"
	}
	fmt.Fprintf(stdout, "ok: %s: format %d, tyokyky %s, schema version %d, the %s store (%s), %s – %s\n", file, m.Format, m.AppVersion,
		m.SchemaVersion, m.Source, snapshot, m.Started.Format(time.RFC3339), m.Ended.Format(time.RFC3339))
	fmt.Fprintf(stdout, "  %d collections, %d documents; %d objects (%s); %d key files; %d entries checked in %.1f s (%.1f MB/s)\n",
		m.Counts.Collections, m.Counts.Documents, m.Counts.Objects, media.FormatSize(m.Counts.ObjectBytes), m.Counts.KeyFiles,
		rep.Entries, secs, float64(rep.Bytes)/1e6/secs)
	return exitOK
}

func restoreCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var force bool
	positional, configArgs := commandArgs(args, map[string]*bool{"force": &force})
	if len(positional) != 1 {
		fmt.Fprint(stderr, backupUsage)
		return exitUsage
	}
	file := positional[0]
	cfg, code := loadConfig("restore", configArgs, getenv, stderr)
	if cfg == nil {
		return code
	}
	log := cfg.Logger(stderr)
	ctx, stop := commandContext()
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tyokyky: restore: %v\n", err)
		return exitFailure
	}
	if _, err := os.Stat(file); err != nil {
		return fail(err)
	}
	started := time.Now()
	running := func(err error) error {
		if errors.Is(err, database.ErrLocked) || errors.Is(err, minioproc.ErrLocked) {
			return fmt.Errorf("a server is running on %s; stop it before restoring into its data folder", cfg.DataDir)
		}
		return err
	}
	db, err := database.Open(ctx, database.Options{URI: cfg.MongoURI, Database: cfg.MongoDatabase, Dir: cfg.DBDir(), Logger: log, NoProbe: true})
	if err != nil {
		return fail(running(err))
	}
	defer db.Close(context.Background())
	storeOpts := media.ObjectStoreOptions{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket}
	if cfg.S3Endpoint == "" {
		p, err := minioproc.Start(ctx, minioproc.Options{Bin: cfg.MinIOBin, Dir: cfg.MinIODir(), Logger: log})
		if err != nil {
			return fail(running(err))
		}
		defer p.Stop(10 * time.Second)
		storeOpts.Endpoint, storeOpts.AccessKey, storeOpts.SecretKey = p.Endpoint(), p.Credentials.AccessKey, p.Credentials.SecretKey
	}
	objects, err := media.NewObjectStore(storeOpts)
	if err == nil {
		err = objects.EnsureBucket(ctx)
	}
	if err != nil {
		return fail(fmt.Errorf("the object store at %s: %w", storeOpts.Endpoint, err))
	}
	target := backup.Target{DB: db, Objects: objects, KeyDir: cfg.CertKeyFolder()}
	open := func() (io.ReadCloser, error) { return os.Open(file) }
	res, err := backup.Restore(ctx, open, target, backup.RestoreOptions{Force: force, Out: stdout})
	if err != nil {
		return fail(err)
	}
	m := res.Manifest
	secs := max(time.Since(started).Seconds(), 0.001)
	where := "the embedded store in " + cfg.DBDir()
	if cfg.MongoURI != "" {
		where = "MongoDB " + database.Redact(cfg.MongoURI)
	}
	fmt.Fprintf(stdout, "restored %s into %s (database %s) and the bucket %s\n", file, where, cfg.MongoDatabase, cfg.S3Bucket)
	fmt.Fprintf(stdout, "  %d collections, %d documents; %d objects (%s); %d key files into %s; counts checked\n",
		m.Counts.Collections, m.Counts.Documents, m.Counts.Objects, media.FormatSize(m.Counts.ObjectBytes), m.Counts.KeyFiles, target.KeyDir)
	fmt.Fprintf(stdout, "  %.1f s (the archive read twice: checked, then restored): %.1f MB/s, %.0f documents/s\n",
		secs, float64(res.Bytes)/1e6/secs, float64(m.Counts.Documents)/secs)
	if m.KeyFilesLeftOut > 0 {
		fmt.Fprintf(stdout, "note: the backup left out %d private key files: the restored platform makes a new signing key; certificates issued before stay verifiable\n", m.KeyFilesLeftOut)
	}
	if m.KeyFilesLeftOut == 0 && m.Counts.KeyFiles == 0 {
		fmt.Fprintln(stdout, "note: the signing keys are in the database, sealed: the restored platform signs with them only with the same TYOKYKY_CERT_KEY_SECRET")
	}
	return exitOK
}
