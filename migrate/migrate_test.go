package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/crashpoint"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRegistryIsValid(t *testing.T) {
	if err := Check(All()); err != nil {
		t.Fatal(err)
	}
	up := func(context.Context, *database.DB) error { return nil }
	for _, bad := range [][]Migration{
		{{ID: 2, Name: "two", Up: up}},
		{{ID: 1, Name: "one", Up: up}, {ID: 1, Name: "again", Up: up}},
		{{ID: 1, Name: "", Up: up}},
		{{ID: 1, Name: "one"}},
	} {
		if Check(bad) == nil {
			t.Errorf("Check accepted %+v", bad)
		}
	}
}

// oldJobs writes the jobs documents account.Lease wrote before migration 1.
func oldJobs(t *testing.T, db *database.DB, until time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, d := range []bson.D{
		{{Key: "_id", Value: "retention"}, {Key: "until", Value: until.UTC()}, {Key: "holder", Value: "old-retention"}},
		{{Key: "_id", Value: "reminders"}, {Key: "until", Value: time.Now().Add(-time.Hour).UTC()}, {Key: "holder", Value: "old-reminders"}},
	} {
		if _, err := db.Collection("jobs").InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// endState is what migration 1 leaves, without the times that differ
// between runs: the lease claims, whether jobs exists, the records.
func endState(t *testing.T, db *database.DB) string {
	t.Helper()
	ctx := context.Background()
	cur, err := db.Collection("leases").Find(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$ne", Value: LeaseName}}}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var claims []struct {
		ID     string    `bson:"_id"`
		Holder string    `bson:"holder"`
		Until  time.Time `bson:"until"`
	}
	if err := cur.All(ctx, &claims); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range claims {
		fmt.Fprintf(&b, "claim %s %s %s\n", c.ID, c.Holder, c.Until.UTC().Format(time.RFC3339))
	}
	names, err := db.Database.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "jobs collection: %v\n", slices.Contains(names, "jobs"))
	st, err := Read(ctx, db, All())
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Collection(Collection).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "records: %d, pending: %d\n", n, len(st.Pending()))
	return b.String()
}

// Migration 1 carries the running lease over as a claim, drops the run
// out one and the jobs collection, and is recorded once with its version.
func TestJobLeasesBecomeClaims(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	oldJobs(t, db, until)
	done, err := Run(ctx, db, Options{Version: "v-test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(All()) || done[0].ID != 1 {
		t.Fatalf("applied %+v, want every migration from 1", done)
	}
	want := fmt.Sprintf("claim retention#1 old-retention %s\njobs collection: false\nrecords: %d, pending: 0\n", until.UTC().Format(time.RFC3339), len(All()))
	if got := endState(t, db); got != want {
		t.Fatalf("end state:\n%s\nwant:\n%s", got, want)
	}
	// The carried-over lease holds; the run-out one is free.
	if ok, err := db.Lease(ctx, "retention", "new", time.Minute); err != nil || ok {
		t.Fatalf("the carried-over lease was taken: %v %v", ok, err)
	}
	if ok, err := db.Lease(ctx, "reminders", "new", time.Minute); err != nil || !ok {
		t.Fatalf("a run-out lease was not free: %v %v", ok, err)
	}
	var rec Record
	if err := db.Collection(Collection).FindOne(ctx, bson.D{{Key: "_id", Value: 1}}).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec.Name != "job leases become claims" || rec.Version != "v-test" || rec.Holder == "" || time.Since(rec.AppliedAt) > time.Minute || rec.Duration() < 0 {
		t.Fatalf("record %+v", rec)
	}
	// Nothing to do the second time.
	if done, err := Run(ctx, db, Options{Version: "v-test", Logger: quiet}); err != nil || len(done) != 0 {
		t.Fatalf("second run applied %+v (%v)", done, err)
	}
	// The lease is released after the run.
	if h, _, err := db.LeaseHolder(ctx, LeaseName); err != nil || h != "" {
		t.Fatalf("the migrations' lease is still held by %q (%v)", h, err)
	}
}

type crash struct{}

// crashAt runs up with the process "killed" (a panic) at the nth time it
// reaches step, as a stopped server would leave the store; it fails the
// test when up never gets there.
func crashAt(t *testing.T, step string, nth int, up func()) {
	t.Helper()
	n := 0
	crashpoint.Set(func(s string) {
		if s == step {
			if n++; n == nth {
				panic(crash{})
			}
		}
	})
	defer crashpoint.Set(nil)
	func() {
		defer func() {
			if r := recover(); r != nil && r != (crash{}) {
				panic(r)
			}
		}()
		up()
		t.Fatalf("the crash point %s was not reached", step)
	}()
}

// A migration cut short at any of its steps runs again from its start,
// ends in the state of an uninterrupted run and is recorded once. (The
// crash here unwinds the goroutine; cmd/tyokyky's test kills the process.)
func TestCrashInAMigrationResumes(t *testing.T) {
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	clean := env.Database()
	oldJobs(t, clean, until)
	if _, err := Run(ctx, clean, Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	want := endState(t, clean)
	for _, step := range []string{"migrate/1/claims-written", "migrate/1/before-record"} {
		t.Run(step, func(t *testing.T) {
			db := env.Database()
			oldJobs(t, db, until)
			reached := false
			crashpoint.Set(func(s string) {
				if s == step {
					reached = true
					panic(crash{})
				}
			})
			func() {
				defer func() {
					if r := recover(); r != nil && r != (crash{}) {
						panic(r)
					}
				}()
				Run(ctx, db, Options{Logger: quiet})
			}()
			crashpoint.Set(nil)
			if !reached {
				t.Fatalf("step %s was not reached", step)
			}
			if st, _ := Read(ctx, db, All()); len(st.Pending()) != len(All()) {
				t.Fatal("a migration cut short was recorded")
			}
			done, err := Run(ctx, db, Options{Logger: quiet})
			if err != nil || len(done) != len(All()) {
				t.Fatalf("resume applied %+v (%v)", done, err)
			}
			if got := endState(t, db); got != want {
				t.Fatalf("end state after the crash and a resume:\n%s\nwant (uninterrupted):\n%s", got, want)
			}
		})
	}
}

// Instances starting at once on one store, through separate connections,
// apply each migration once: one holds the lease and the others wait,
// saying why, until the migrations are recorded.
func TestConcurrentRunsApplyEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	a := env.Database()
	b, err := database.Open(ctx, database.Options{Dir: filepath.Join(env.Dir, "db"), Database: a.Database.Name(), Attach: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if !b.Attached {
		t.Fatal("the second connection did not attach")
	}
	var calls [3]atomic.Int32
	var ms []Migration
	for i := range calls {
		ms = append(ms, Migration{ID: i + 1, Name: fmt.Sprintf("step %d", i+1), Up: func(ctx context.Context, db *database.DB) error {
			calls[i].Add(1)
			time.Sleep(150 * time.Millisecond)
			_, err := db.Collection("steps").UpdateOne(ctx, bson.D{{Key: "_id", Value: i + 1}}, bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}}}}, options.UpdateOne().SetUpsert(true))
			return err
		}})
	}
	var mu sync.Mutex
	var reasons []string
	var applied atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 8 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			done, err := Run(ctx, db, Options{Migrations: ms, Poll: 20 * time.Millisecond, Logger: quiet, Report: func(r string) {
				mu.Lock()
				reasons = append(reasons, r)
				mu.Unlock()
			}})
			if err != nil {
				t.Error(err)
			}
			applied.Add(int32(len(done)))
		}()
	}
	close(start)
	wg.Wait()
	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Errorf("migration %d ran %d times, want once", i+1, n)
		}
	}
	if n := applied.Load(); n != 3 {
		t.Errorf("the runs report %d applied migrations, want 3", n)
	}
	if n, _ := a.Collection(Collection).CountDocuments(ctx, bson.D{}); n != 3 {
		t.Errorf("%d records, want 3", n)
	}
	var waited, migrating bool
	for _, r := range reasons {
		waited = waited || strings.HasSuffix(r, "running elsewhere") && strings.HasPrefix(r, "schema migration ")
		migrating = migrating || strings.HasPrefix(r, "migrating: 1 of 3 (migration 1: step 1)")
	}
	if !waited || !migrating || reasons[len(reasons)-1] != "" {
		t.Errorf("reasons told: %q", reasons)
	}
}

// An instance that finds the lease held by one that died waits for it to
// run out and then applies the migrations itself.
func TestTakesOverFromADeadHolder(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	if ok, err := db.Lease(ctx, LeaseName, "dead-instance", 600*time.Millisecond); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var mu sync.Mutex
	var reasons []string
	start := time.Now()
	done, err := Run(ctx, db, Options{Poll: 50 * time.Millisecond, Logger: quiet, Report: func(r string) {
		mu.Lock()
		reasons = append(reasons, r)
		mu.Unlock()
	}})
	if err != nil || len(done) != len(All()) {
		t.Fatalf("applied %+v (%v)", done, err)
	}
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("applied after %v, while the dead holder's lease ran", waited)
	}
	if len(reasons) == 0 || reasons[0] != "schema migration 1 running elsewhere" {
		t.Fatalf("reasons %q", reasons)
	}
}

// A database a newer binary migrated is refused before anything is
// written, with a message that names the migration and the version.
func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	db := env.Database()
	oldJobs(t, db, time.Now().Add(time.Hour))
	if _, err := db.Collection(Collection).InsertOne(ctx, Record{ID: Latest(All()) + 1, Name: "from the future", AppliedAt: time.Now().UTC(), Version: "v9.9.9"}); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, db, Options{Logger: quiet})
	var newer *NewerSchemaError
	if !errors.Is(err, ErrNewerSchema) || !errors.As(err, &newer) {
		t.Fatalf("err = %v, want a NewerSchemaError", err)
	}
	msg := err.Error()
	for _, want := range []string{"newer than this binary", fmt.Sprintf("migration %d", Latest(All())+1), "from the future", "v9.9.9", fmt.Sprintf("knows migrations up to %d", Latest(All()))} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if n, _ := db.Collection("jobs").CountDocuments(ctx, bson.D{}); n != 2 {
		t.Fatalf("a refused database was changed: %d jobs documents left", n)
	}
}
