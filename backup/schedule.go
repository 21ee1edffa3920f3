package backup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/media"
)

// Scheduled backups (TYOKYKY_BACKUP_DIR, _EVERY, _KEEP): every instance
// runs a Scheduler, and one at a time takes a backup when the last
// successful one, by any instance, is older than Every. The runs are
// recorded in the runs collection (one inserted document each), which is
// where every instance learns when the last backup succeeded.

// runsCollection records the scheduled backups' runs.
const runsCollection = "backup_runs"

// leaseName is the lease a scheduled backup runs under.
const leaseName = "scheduled-backup"

// Destination is where scheduled backups go and where the old ones are
// pruned: a folder or a bucket prefix.
type Destination interface {
	// Create starts the archive of a backup taken at now.
	Create(ctx context.Context, now time.Time) (Output, error)
	// Archives lists the finished archives it holds, oldest first.
	Archives(ctx context.Context) ([]string, error)
	// Remove deletes an archive Archives listed.
	Remove(ctx context.Context, name string) error
	String() string
}

// Dir is a folder of archives.
type Dir string

func (d Dir) Create(_ context.Context, now time.Time) (Output, error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return nil, err
	}
	return CreateFile(string(d), now)
}

func (d Dir) Archives(context.Context) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(string(d), "tyokyky-backup-*.tar.zst"))
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names) // the names carry the time: oldest first
	return names, nil
}

func (d Dir) Remove(_ context.Context, name string) error {
	return os.Remove(filepath.Join(string(d), filepath.Base(name)))
}

func (d Dir) String() string { return string(d) }

// Bucket is a prefix of an S3 bucket (not the media bucket).
type Bucket struct {
	Store  *media.ObjectStore
	Prefix string
}

func (b Bucket) Create(ctx context.Context, now time.Time) (Output, error) {
	if err := b.Store.EnsureBucket(ctx); err != nil {
		return nil, err
	}
	return CreateS3(ctx, b.Store, S3Key(b.Prefix, now))
}

func (b Bucket) key(name string) string {
	if b.Prefix == "" {
		return name
	}
	return b.Prefix + "/" + name
}

func (b Bucket) Archives(ctx context.Context) ([]string, error) {
	list, err := b.Store.ListObjects(ctx, b.key("tyokyky-backup-"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, o := range list {
		if name := strings.TrimPrefix(o.Key, b.key("")); strings.HasSuffix(name, ".tar.zst") && !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (b Bucket) Remove(ctx context.Context, name string) error {
	return b.Store.RemoveObject(ctx, b.key(name))
}

func (b Bucket) String() string { return "s3://" + b.Store.Bucket() + "/" + b.Prefix }

// Scheduler takes the scheduled backups of a running server.
type Scheduler struct {
	// DB is the server's store (the source is read from it: the embedded
	// store's copy is taken under its write gate).
	DB *database.DB
	// Source says where the store's files are (Live is set from DB).
	Source SourceOptions
	// Objects is the media bucket.
	Objects *media.ObjectStore
	To      Destination
	Every   time.Duration
	// Keep is how many archives stay in To; older ones are removed after
	// a successful backup.
	Keep       int
	AppVersion string
	// Holder names this instance in the lease (unique per process).
	Holder string
	Log    *slog.Logger
	Now    func() time.Time

	mu     sync.Mutex
	status Status
}

// Status is what the scheduler knows of the backups, for /readyz and the
// metrics.
type Status struct {
	Target string `json:"target"`
	// LastSuccess is when the last successful backup (by any instance)
	// finished; zero when none has.
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastArchive string    `json:"last_archive,omitempty"`
	// LastError is the last failure of this instance's backups (cleared by
	// a success).
	LastError string    `json:"last_error,omitempty"`
	LastTry   time.Time `json:"last_try,omitzero"`
}

// run is a scheduled backup's record.
type run struct {
	ID       string    `bson:"_id"` // the archive's name
	Started  time.Time `bson:"started"`
	Finished time.Time `bson:"finished"`
	OK       bool      `bson:"ok"`
	Error    string    `bson:"error,omitempty"`
	Archive  string    `bson:"archive"`
	Bytes    int64     `bson:"bytes"`
	Holder   string    `bson:"holder"`
}

// Status returns the scheduler's view of the backups.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// lastSuccess is the newest successful run recorded by any instance (the
// runs are few: one a backup).
func (s *Scheduler) lastSuccess(ctx context.Context) (*run, error) {
	cur, err := s.DB.Collection(runsCollection).Find(ctx, bson.D{{Key: "ok", Value: true}})
	if err != nil {
		return nil, err
	}
	var runs []run
	if err := cur.All(ctx, &runs); err != nil {
		return nil, err
	}
	var last *run
	for i := range runs {
		if last == nil || runs[i].Finished.After(last.Finished) {
			last = &runs[i]
		}
	}
	return last, nil
}

// Tick takes a backup when one is due and no other instance is taking
// one; it reports whether it took one.
func (s *Scheduler) Tick(ctx context.Context) (bool, error) {
	last, err := s.lastSuccess(ctx)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	s.status.Target = s.To.String()
	if last != nil {
		s.status.LastSuccess, s.status.LastArchive = last.Finished, last.Archive
	}
	s.mu.Unlock()
	now := s.now()
	if last != nil && now.Sub(last.Finished) < s.Every {
		return false, nil
	}
	// After a failure this instance waits a while (up to ten minutes)
	// before it tries again.
	if st := s.Status(); st.LastError != "" && now.Sub(st.LastTry) < min(10*time.Minute, s.Every) {
		return false, nil
	}
	const leaseFor = 30 * time.Minute
	ok, err := s.DB.Lease(ctx, leaseName, s.Holder, leaseFor)
	if err != nil || !ok {
		return false, err
	}
	defer s.DB.Release(context.WithoutCancel(ctx), leaseName, s.Holder)
	// Another instance may have finished one while this one waited.
	if last, err = s.lastSuccess(ctx); err != nil {
		return false, err
	} else if last != nil && now.Sub(last.Finished) < s.Every {
		return false, nil
	}
	// The lease is renewed while the backup runs.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		t := time.NewTicker(leaseFor / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if ok, err := s.DB.Renew(runCtx, leaseName, s.Holder, leaseFor); err == nil && !ok {
					s.Log.Warn("scheduled backup: the lease was taken over; stopping")
					stop()
				}
			}
		}
	}()
	r, err := s.take(runCtx, now)
	s.mu.Lock()
	s.status.LastTry = r.Finished
	if err != nil {
		s.status.LastError = err.Error()
	} else {
		s.status.LastError, s.status.LastSuccess, s.status.LastArchive = "", r.Finished, r.Archive
	}
	s.mu.Unlock()
	if _, rerr := s.DB.Collection(runsCollection).InsertOne(context.WithoutCancel(ctx), r); rerr != nil && err == nil {
		err = fmt.Errorf("recording the backup: %w", rerr)
	}
	if err != nil {
		return true, err
	}
	s.Log.Info("scheduled backup taken", "archive", r.Archive, "bytes", r.Bytes, "took", r.Finished.Sub(r.Started).Round(time.Millisecond))
	if perr := s.prune(ctx); perr != nil {
		s.Log.Warn("scheduled backup: removing old archives", "err", perr)
	}
	return true, nil
}

// take writes one archive.
func (s *Scheduler) take(ctx context.Context, now time.Time) (run, error) {
	r := run{ID: ArchiveName(now), Started: now, Archive: ArchiveName(now), Holder: s.Holder}
	finish := func(err error) (run, error) {
		r.Finished = s.now()
		r.OK = err == nil
		if err != nil {
			r.Error = err.Error()
		}
		return r, err
	}
	out, err := s.To.Create(ctx, now)
	if err != nil {
		return finish(err)
	}
	r.Archive = out.Name()
	o := s.Source
	o.Live = s.DB
	src, err := OpenSource(ctx, o)
	if err != nil {
		out.Abort()
		return finish(err)
	}
	defer src.Close()
	counted := &countWriter{w: out}
	if _, err := Write(ctx, counted, src, Options{Objects: s.Objects, AppVersion: s.AppVersion, Warn: func(msg string) {
		s.Log.Warn("scheduled backup", "warning", msg)
	}}); err != nil {
		out.Abort()
		return finish(err)
	}
	if err := out.Commit(ctx); err != nil {
		return finish(err)
	}
	r.Bytes = counted.n
	return finish(nil)
}

// prune removes all but the newest Keep archives.
func (s *Scheduler) prune(ctx context.Context) error {
	names, err := s.To.Archives(ctx)
	if err != nil || s.Keep <= 0 || len(names) <= s.Keep {
		return err
	}
	for _, n := range names[:len(names)-s.Keep] {
		if err := s.To.Remove(ctx, n); err != nil {
			return err
		}
		s.Log.Info("old backup removed", "archive", n)
	}
	return nil
}

// Run ticks until ctx ends: at start and then every minute (or Every,
// when shorter), so a backup is taken within a minute of falling due.
func (s *Scheduler) Run(ctx context.Context) {
	step := min(time.Minute, s.Every)
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("scheduled backup failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
	}
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
