// Package migrate keeps the stored documents in the shape the code reads.
// Every change to stored documents is a numbered Go migration (the
// registry is in migrations.go). At start one instance takes the lease
// "schema-migrations" and applies the pending migrations in order while
// the others wait; each applied migration is recorded in the
// schema_migrations collection. A migration is idempotent and resumable:
// one cut short by a crash runs again from its start and ends in the same
// state, and it is recorded only after it has finished. A binary refuses
// a database on which a migration it does not know was applied.
//
// Migrations work on documents as stored (bson), never on the domain
// packages' types: those follow the newest shape, while a migration must
// go on reading the shape it was written for.
package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
)

// Migration is one change to stored documents. Up must be idempotent: run
// again from its start after a crash anywhere in it, it ends in the state
// one whole run leaves.
type Migration struct {
	ID   int
	Name string
	Up   func(ctx context.Context, db *database.DB) error
}

// Collection holds one document per applied migration (Record).
const Collection = "schema_migrations"

// LeaseName is the lease the instance applying migrations holds.
const LeaseName = "schema-migrations"

// Record is an applied migration as schema_migrations keeps it.
type Record struct {
	ID         int       `bson:"_id"`
	Name       string    `bson:"name"`
	AppliedAt  time.Time `bson:"applied_at"`
	DurationMS int64     `bson:"duration_ms"`
	// Version is the version of the binary that applied it, Holder the
	// instance (host/pid/random).
	Version string `bson:"version"`
	Holder  string `bson:"holder"`
}

// Duration is how long the migration ran.
func (r Record) Duration() time.Duration { return time.Duration(r.DurationMS) * time.Millisecond }

// Step is a known migration and its record (nil while pending).
type Step struct {
	Migration
	Applied *Record
}

// State is the schema of a database as a binary sees it.
type State struct {
	Steps []Step
	// Unknown are applied migrations this binary does not know: a newer
	// binary applied them.
	Unknown []Record
}

// Pending lists the migrations not applied yet, in order.
func (s *State) Pending() []Migration {
	var out []Migration
	for _, st := range s.Steps {
		if st.Applied == nil {
			out = append(out, st.Migration)
		}
	}
	return out
}

// Newer returns a *NewerSchemaError when a newer binary has migrated the
// database, else nil.
func (s *State) Newer() error {
	if len(s.Unknown) == 0 {
		return nil
	}
	known := 0
	if len(s.Steps) > 0 {
		known = s.Steps[len(s.Steps)-1].ID
	}
	return &NewerSchemaError{Known: known, Found: s.Unknown}
}

// ErrNewerSchema is what a *NewerSchemaError matches with errors.Is.
var ErrNewerSchema = errors.New("the database's schema is newer than this binary")

// NewerSchemaError says which migrations a newer binary applied.
type NewerSchemaError struct {
	Known int      // the highest migration this binary knows
	Found []Record // the applied migrations above it
}

func (e *NewerSchemaError) Error() string {
	r := e.Found[len(e.Found)-1]
	return fmt.Sprintf("%v: it has migration %d (%q, applied %s by version %s), and this binary knows migrations up to %d; run version %s or newer",
		ErrNewerSchema, r.ID, r.Name, r.AppliedAt.UTC().Format(time.RFC3339), r.Version, e.Known, r.Version)
}

func (e *NewerSchemaError) Is(target error) bool { return target == ErrNewerSchema }

// Read reads which of ms (in order) the database has applied.
func Read(ctx context.Context, db *database.DB, ms []Migration) (*State, error) {
	cur, err := db.Collection(Collection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("migrate: reading %s: %w", Collection, err)
	}
	var recs []Record
	if err := cur.All(ctx, &recs); err != nil {
		return nil, fmt.Errorf("migrate: reading %s: %w", Collection, err)
	}
	applied := make(map[int]*Record, len(recs))
	for i := range recs {
		applied[recs[i].ID] = &recs[i]
	}
	st := &State{}
	known := make(map[int]bool, len(ms))
	for _, m := range ms {
		st.Steps = append(st.Steps, Step{Migration: m, Applied: applied[m.ID]})
		known[m.ID] = true
	}
	for _, r := range recs {
		if !known[r.ID] {
			st.Unknown = append(st.Unknown, r)
		}
	}
	return st, nil
}

// Options tune Run.
type Options struct {
	// Migrations to apply, in order (nil: All()).
	Migrations []Migration
	// Version of the binary, recorded with each migration.
	Version string
	// Holder names this instance in the lease and the records (default
	// host/pid/random).
	Holder string
	// Lease is how long the lease lasts unless renewed (default 30 s); the
	// holder renews it every third of that while it works. After a crash
	// the others wait at most this long before one of them goes on.
	Lease time.Duration
	// Poll is how often a waiting instance looks again (default 1 s).
	Poll time.Duration
	// Logger receives one line per applied migration and per change of
	// what the instance waits for.
	Logger *slog.Logger
	// Report, when set, is told what keeps the instance from serving
	// ("schema migration 2 running elsewhere", "migrating: 1 of 2 (…)"),
	// and "" when the schema is up to date.
	Report func(reason string)
}

func (o *Options) defaults() {
	if o.Migrations == nil {
		o.Migrations = All()
	}
	if o.Holder == "" {
		o.Holder = NewHolder()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Report == nil {
		o.Report = func(string) {}
	}
}

// NewHolder names an instance: host, process and a random part.
func NewHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// errLostLease cancels a migration whose lease another instance took.
var errLostLease = errors.New("migrate: the schema-migrations lease was lost")

// Run brings the database's schema up to date: it takes the lease and
// applies the pending migrations in order, or, while another instance
// holds the lease, waits until the migrations are recorded (taking over
// when that instance's lease runs out). It returns the migrations this
// instance applied. A database migrated by a newer binary is refused with
// a *NewerSchemaError before anything is written.
func Run(ctx context.Context, db *database.DB, o Options) ([]Record, error) {
	o.defaults()
	if err := Check(o.Migrations); err != nil {
		return nil, err
	}
	var done []Record
	waiting := ""
	for {
		st, err := Read(ctx, db, o.Migrations)
		if err != nil {
			return done, err
		}
		if err := st.Newer(); err != nil {
			return done, err
		}
		pending := st.Pending()
		if len(pending) == 0 {
			o.Report("")
			return done, nil
		}
		ok, err := db.Lease(ctx, LeaseName, o.Holder, o.Lease)
		if err != nil {
			return done, err
		}
		if ok {
			recs, err := o.applyHeld(ctx, db)
			done = append(done, recs...)
			if errors.Is(err, errLostLease) {
				o.Logger.Warn("schema migrations: another instance took the lease over; waiting for it", "holder", o.Holder)
				continue
			}
			if err != nil {
				return done, err
			}
			continue // read again: all recorded now
		}
		reason := fmt.Sprintf("schema migration %d running elsewhere", pending[0].ID)
		if reason != waiting {
			holder, until, _ := db.LeaseHolder(ctx, LeaseName)
			o.Logger.Info("schema migrations: waiting", "reason", reason, "holder", holder, "lease_until", until)
			waiting = reason
		}
		o.Report(reason)
		select {
		case <-ctx.Done():
			return done, ctx.Err()
		case <-time.After(o.Poll):
		}
	}
}

// applyHeld applies the pending migrations while this instance holds the
// lease, renewing it, and releases it at the end.
func (o *Options) applyHeld(ctx context.Context, db *database.DB) (_ []Record, err error) {
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		o.keepLease(mctx, db, cancel)
	}()
	defer func() {
		cancel(nil)
		<-stopped
		if !errors.Is(err, errLostLease) {
			rctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if rerr := db.Release(rctx, LeaseName, o.Holder); rerr != nil {
				o.Logger.Warn("schema migrations: releasing the lease", "err", rerr)
			}
			c()
		}
	}()
	// Read again under the lease: the last holder may have finished
	// between our reading and our taking the lease.
	st, err := Read(mctx, db, o.Migrations)
	if err != nil {
		return nil, err
	}
	if err := st.Newer(); err != nil {
		return nil, err
	}
	pending := st.Pending()
	var done []Record
	for i, m := range pending {
		o.Report(fmt.Sprintf("migrating: %d of %d (migration %d: %s)", i+1, len(pending), m.ID, m.Name))
		o.Logger.Info("schema migration starts", "id", m.ID, "name", m.Name)
		start := time.Now()
		err := m.Up(mctx, db)
		if cause := context.Cause(mctx); errors.Is(cause, errLostLease) {
			return done, cause
		}
		if err != nil {
			return done, fmt.Errorf("schema migration %d (%s): %w", m.ID, m.Name, err)
		}
		crashpoint.Reach(fmt.Sprintf("migrate/%d/before-record", m.ID))
		rec := Record{ID: m.ID, Name: m.Name, AppliedAt: time.Now().UTC(), DurationMS: time.Since(start).Milliseconds(), Version: o.Version, Holder: o.Holder}
		if _, err := db.Collection(Collection).InsertOne(mctx, rec); err != nil && !mongo.IsDuplicateKeyError(err) {
			// A duplicate: another instance recorded it after taking the
			// lease over from us; the migration is idempotent, so both
			// runs left the same state.
			return done, fmt.Errorf("schema migration %d (%s): recording it: %w", m.ID, m.Name, err)
		}
		o.Logger.Info("schema migration applied", "id", m.ID, "name", m.Name, "duration", time.Since(start).Round(time.Millisecond))
		done = append(done, rec)
	}
	return done, nil
}

// keepLease renews the lease every third of its duration until ctx ends;
// when the lease is lost (taken over, or not renewed before it ran out)
// it cancels the migrations with errLostLease.
func (o *Options) keepLease(ctx context.Context, db *database.DB, cancel context.CancelCauseFunc) {
	t := time.NewTicker(o.Lease / 3)
	defer t.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := db.Renew(ctx, LeaseName, o.Holder, o.Lease)
		switch {
		case err == nil && ok:
			renewed = time.Now()
		case err == nil:
			cancel(errLostLease)
			return
		case ctx.Err() != nil:
			return
		default:
			o.Logger.Warn("schema migrations: renewing the lease", "err", err)
			if time.Since(renewed) > o.Lease {
				cancel(errLostLease)
				return
			}
		}
	}
}

// Check tells whether ms is a valid registry: IDs 1, 2, 3 … in order,
// each with a name and an Up.
func Check(ms []Migration) error {
	for i, m := range ms {
		if m.ID != i+1 {
			return fmt.Errorf("migrate: migration %d (%q) is in place %d: IDs run 1, 2, 3 … in order", m.ID, m.Name, i+1)
		}
		if m.Name == "" || m.Up == nil {
			return fmt.Errorf("migrate: migration %d needs a name and an Up", m.ID)
		}
	}
	return nil
}

// Latest is the highest migration ID in ms (0 for none).
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].ID
}
