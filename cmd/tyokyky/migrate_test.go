package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/minioproc"
	"github.com/tyokyky/tyokyky/internal/testenv"
	"github.com/tyokyky/tyokyky/migrate"
)

// testdata/db-before-migrations.tar.gz is the embedded store's folder
// (db/tyokyky.sqlite) as the code before package migrate left it: the
// binary of commit 9178145 ran on an empty data folder with
// TYOKYKY_RETENTION_DAYS=3650; through its API a learner registered
// (vanha.oppija@example.fi, password below), opened and completed the
// section tyokyvyn-tuki/palvelupolku (30 seconds, its task answered), and
// the retention and reminder jobs took their leases in the old jobs
// collection; then the server was stopped with SIGINT.
const (
	oldLearner  = "vanha.oppija@example.fi"
	oldPassword = "vanhan-koodin-salasana-1"
	oldTask     = "tyokyvyn-tuki.palvelupolku.tehtava-oman-yksikon-tyokyvyn-tuen-polku"
	oldAnswer   = "Vanhan koodin tallentama vastaus: polku alkaa varhaisesta tunnistamisesta."
)

// unpackBeforeMigrations writes the old store into data/db.
func unpackBeforeMigrations(t *testing.T, data string) {
	t.Helper()
	f, err := os.Open("testdata/db-before-migrations.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(data, filepath.FromSlash(h.Name))
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(name, filepath.Join(data, "db")+string(filepath.Separator)) {
			t.Fatalf("unexpected entry %s in the fixture", h.Name)
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

var quietLog = slog.New(slog.DiscardHandler)

// openStore opens data's store: a running server's by attaching, else
// the embedded store itself.
func openStore(t *testing.T, data string) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), database.Options{Database: "tyokyky", Dir: filepath.Join(data, "db"), Attach: true, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func collections(t *testing.T, db *database.DB) []string {
	t.Helper()
	names, err := db.Database.ListCollectionNames(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A data folder written by the code before migrations opens: the server
// applies migration 1 at start, and the learner, their progress and their
// answer are there as they were; the jobs take their leases as claims.
func TestDataFromBeforeMigrationsOpensAndMigrates(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	unpackBeforeMigrations(t, data)
	before := openStore(t, data)
	if names := collections(t, before); !slices.Contains(names, "jobs") || slices.Contains(names, migrate.Collection) {
		t.Fatalf("the fixture is not from before migrations: %v", names)
	}
	before.Close(ctx)

	s := startServer(t, data, "TYOKYKY_RETENTION_DAYS=3650")
	out := s.stderr.String()
	if !strings.Contains(out, `msg="schema migration applied" id=1`) {
		t.Fatalf("the start did not apply migration 1:\n%s", out)
	}
	if strings.Contains(out, "First administrator created") {
		t.Fatal("the old database looked empty: a first administrator was created")
	}

	// The learner's account, progress and answer.
	l := newLearnerSignedIn(t, "http://"+s.addr, oldLearner, oldPassword)
	code, body, err := l.do("GET", "/api/v1/progress", "")
	if err != nil || code != 200 {
		t.Fatalf("progress = %d %s %v", code, body, err)
	}
	var progress struct {
		Sections []struct {
			Module, Section string
			Seconds         int
			CompletedAt     *time.Time `json:"completed_at"`
		}
	}
	if err := json.Unmarshal([]byte(body), &progress); err != nil {
		t.Fatal(err)
	}
	if len(progress.Sections) != 1 || progress.Sections[0].Section != "palvelupolku" || progress.Sections[0].Seconds != 30 || progress.Sections[0].CompletedAt == nil {
		t.Fatalf("progress after the migration: %s", body)
	}
	code, body, err = l.do("GET", "/api/v1/tasks/"+oldTask+"/answer", "")
	if err != nil || code != 200 || !strings.Contains(body, oldAnswer) {
		t.Fatalf("answer = %d %s %v", code, body, err)
	}

	// Recorded once, jobs gone, both jobs' leases are claims now.
	db := openStore(t, data)
	defer db.Close(ctx)
	st, err := migrate.Read(ctx, db, migrate.All())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending()) != 0 || st.Steps[0].Applied == nil || st.Steps[0].Applied.Version != versionString() {
		t.Fatalf("schema state after the start: %+v", st)
	}
	if slices.Contains(collections(t, db), "jobs") {
		t.Fatal("the jobs collection is still there")
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, job := range []string{"retention", "reminders"} {
		for {
			holder, _, err := db.LeaseHolder(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			if holder != "" {
				// The old leases ran out minutes after the fixture was
				// made: these are the new server's.
				if strings.HasPrefix(holder, "qq5pltpw") || strings.HasPrefix(holder, "3allasxt") {
					t.Fatalf("the %s lease is still the old instance's: %s", job, holder)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nobody holds the %s lease", job)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var buf bytes.Buffer
	if code := run([]string{"migrate", "status", "--data-dir", data}, mapEnv(nil), &buf, &buf); code != 0 || !strings.Contains(buf.String(), fmt.Sprintf("%d of %[1]d applied, 0 pending", len(migrate.All()))) {
		t.Fatalf("migrate status = %d:\n%s", code, buf.String())
	}
}

// newLearnerSignedIn signs an existing learner in over the API.
func newLearnerSignedIn(t *testing.T, base, email, password string) *learnerClient {
	t.Helper()
	c := &learnerClient{base: base}
	c.http = &http.Client{Timeout: 10 * time.Second}
	resp, err := c.http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in %s: %v %v", email, resp, err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("sign in %s: %v", email, err)
	}
	c.token = tok.Token
	return c
}

// migrationEndState is what migration 1 leaves, apart from times and the
// migrations' own lease: the job claims, the collections, the records.
func migrationEndState(t *testing.T, data string) string {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, data)
	defer db.Close(ctx)
	cur, err := db.Collection("leases").Find(ctx, bson.D{{Key: "name", Value: bson.D{{Key: "$ne", Value: migrate.LeaseName}}}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var claims []bson.M
	if err := cur.All(ctx, &claims); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range claims {
		fmt.Fprintf(&b, "claim %v holder %v until %v\n", c["_id"], c["holder"], c["until"])
	}
	fmt.Fprintf(&b, "jobs collection: %v\n", slices.Contains(collections(t, db), "jobs"))
	n, err := db.Collection(migrate.Collection).CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "records: %d\n", n)
	return b.String()
}

// beforeMigrationsWithARunningLease is the old store whose retention
// lease has not run out (a lease lasted ten minutes; the fixture's ran out
// long ago), so that migration 1 has a lease to carry over.
func beforeMigrationsWithARunningLease(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	data := t.TempDir()
	unpackBeforeMigrations(t, data)
	db := openStore(t, data)
	defer db.Close(ctx)
	if _, err := db.Collection("jobs").UpdateByID(ctx, "retention", bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}}}}); err != nil {
		t.Fatal(err)
	}
	return data
}

// The process applying migration 1 is killed at each of its steps; the
// next run takes over once the dead process's lease has run out, applies
// it from its start, records it once, and leaves what an uninterrupted
// run leaves.
func TestMigrationKilledMidwayResumes(t *testing.T) {
	clean := beforeMigrationsWithARunningLease(t)
	var out bytes.Buffer
	if code := run([]string{"migrate", "up", "--data-dir", clean}, mapEnv(nil), &out, &out); code != 0 {
		t.Fatalf("migrate up = %d:\n%s", code, out.String())
	}
	want := migrationEndState(t, clean)
	if !strings.Contains(want, "claim retention#1 holder qq5pltpwmgerrfi3xecc3iwhyoceczwq") || !strings.Contains(want, "jobs collection: false") || !strings.Contains(want, fmt.Sprintf("records: %d", len(migrate.All()))) {
		t.Fatalf("an uninterrupted run left:\n%s", want)
	}
	for _, step := range []string{"migrate/1/claims-written", "migrate/1/before-record"} {
		t.Run(step, func(t *testing.T) {
			data := beforeMigrationsWithARunningLease(t)
			cmd := exec.Command(os.Args[0], "migrate", "up", "--data-dir", data)
			cmd.Env = append(os.Environ(), "TYOKYKY_TEST_AS_MAIN=1", "TYOKYKY_TEST_CRASH_AT="+step, "TYOKYKY_TEST_MIGRATION_LEASE=2s", "TYOKYKY_MONGODB_URI=")
			b, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.String() != "signal: killed" {
				t.Fatalf("the process was not killed at %s: %v\n%s", step, err, b)
			}
			cut := migrationEndState(t, data)
			if !strings.Contains(cut, "records: 0") {
				t.Fatalf("a migration cut short was recorded:\n%s", cut)
			}
			var out bytes.Buffer
			start := time.Now()
			if code := run([]string{"migrate", "up", "--data-dir", data}, mapEnv(nil), &out, &out); code != 0 {
				t.Fatalf("migrate up after the kill = %d:\n%s", code, out.String())
			}
			if !strings.Contains(out.String(), "schema migration 1 running elsewhere") || !strings.Contains(out.String(), "applied 1 job leases become claims") {
				t.Fatalf("migrate up after the kill said:\n%s", out.String())
			}
			t.Logf("resumed after %v (the dead process's lease lasted 2 s)", time.Since(start).Round(time.Millisecond))
			if got := migrationEndState(t, data); got != want {
				t.Fatalf("after the kill and a resume:\n%s\nwant (uninterrupted):\n%s", got, want)
			}
		})
	}
}

// Two instances starting at once on one store apply migration 1 once:
// the one holding the lease says "migrating: 1 of 1 …" on /readyz, the
// other "schema migration 1 running elsewhere"; then both become ready.
func TestTwoInstancesStartingAtOnceMigrateOnce(t *testing.T) {
	ctx := context.Background()
	minio, err := testenv.StartMinIO(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Close()
	shared := t.TempDir()
	unpackBeforeMigrations(t, shared)
	store := openStore(t, shared) // the shared store, run by this test
	defer store.Close(ctx)
	if store.Embedded == nil {
		t.Fatal("the test does not run the shared store")
	}
	env := []string{
		"TYOKYKY_S3_ENDPOINT=" + minio.Endpoint(),
		"TYOKYKY_S3_ACCESS_KEY=" + minio.Credentials.AccessKey,
		"TYOKYKY_S3_SECRET_KEY=" + minio.Credentials.SecretKey,
		"TYOKYKY_MONGODB_URI=" + store.Embedded.URI(),
		// The holder of the lease stays in migration 1 for a while.
		"TYOKYKY_TEST_PAUSE_AT=migrate/1/claims-written=4s",
	}
	// Launching returns at once: the two start together.
	servers := []*server{launchServer(t, t.TempDir(), env...), launchServer(t, t.TempDir(), env...)}
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for !(seen["migrating"] && seen["elsewhere"]) {
		if time.Now().After(deadline) {
			t.Fatalf("readiness reasons seen: %v", seen)
		}
		for _, s := range servers {
			code, body := get("http://" + s.addr + "/readyz")
			var r struct{ Status, Reason string }
			if code != 503 || json.Unmarshal([]byte(body), &r) != nil {
				continue
			}
			switch {
			case r.Reason == fmt.Sprintf("migrating: 1 of %d (migration 1: job leases become claims)", len(migrate.All())):
				seen["migrating"] = true
			case r.Reason == "schema migration 1 running elsewhere":
				seen["elsewhere"] = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	applied := 0
	for _, s := range servers {
		s.waitReady(t)
		if strings.Contains(s.stderr.String(), `msg="schema migration applied" id=1`) {
			applied++
		}
	}
	if applied != 1 {
		t.Fatalf("%d instances applied migration 1, want 1", applied)
	}
	if n, err := store.Collection(migrate.Collection).CountDocuments(ctx, bson.D{}); err != nil || n != int64(len(migrate.All())) {
		t.Fatalf("%d records (%v), want %d", n, err, len(migrate.All()))
	}
	waiter := servers[0]
	if !strings.Contains(waiter.stderr.String(), "schema migrations: waiting") {
		waiter = servers[1]
	}
	if !strings.Contains(waiter.stderr.String(), `reason="schema migration 1 running elsewhere"`) {
		t.Fatalf("the waiting instance did not log why:\n%s", waiter.stderr.String())
	}
}

// A database on which a newer binary applied a migration this one does
// not know is refused: the server exits 1 at start (before starting
// MinIO) with a message naming the migration, and so do the commands.
func TestNewerMigratedSchemaRefusesToStart(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db := openStore(t, data)
	future := migrate.Latest(migrate.All()) + 1
	if _, err := db.Collection(migrate.Collection).InsertOne(ctx, migrate.Record{ID: future, Name: "from the future", AppliedAt: time.Now().UTC(), Version: "v99.0.0"}); err != nil {
		t.Fatal(err)
	}
	db.Close(ctx)
	bin, err := testenv.MinIOBin()
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := minioproc.FreeAddr()
	var out bytes.Buffer
	code := run([]string{"serve", "--listen", addr, "--data-dir", data, "--minio-bin", bin}, mapEnv(nil), &out, &out)
	want := fmt.Sprintf("the database's schema is newer than this binary: it has migration %d (\\\"from the future\\\", applied", future)
	if code != 1 || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "run version v99.0.0 or newer") {
		t.Fatalf("serve = %d, want 1 with %q:\n%s", code, want, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, "minio")); !os.IsNotExist(err) {
		t.Fatal("MinIO was started for a database the binary refuses")
	}
	for _, sub := range []string{"status", "up"} {
		var out bytes.Buffer
		code := run([]string{"migrate", sub, "--data-dir", data}, mapEnv(nil), &out, &out)
		if code != 1 || !strings.Contains(out.String(), "newer than this binary") {
			t.Fatalf("migrate %s = %d:\n%s", sub, code, out.String())
		}
	}
}

// While another instance holds the migrations' lease, a starting
// instance is alive (/livez 200) but not ready, and SIGTERM stops it
// cleanly (exit 0) without waiting for the migrations.
func TestSIGTERMWhileWaitingForMigrationsStops(t *testing.T) {
	ctx := context.Background()
	shared := t.TempDir()
	store := openStore(t, shared)
	defer store.Close(ctx)
	if ok, err := store.Lease(ctx, migrate.LeaseName, "another-instance", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	s := launchServer(t, t.TempDir(), "TYOKYKY_MONGODB_URI="+store.Embedded.URI())
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get("http://" + s.addr + "/readyz")
		if code == 503 && strings.Contains(body, `"reason":"schema migration 1 running elsewhere"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := get("http://" + s.addr + "/livez"); code != 200 {
		t.Fatalf("/livez while waiting = %d", code)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM while waiting: %v\n%s", err, s.stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the waiting instance did not stop on SIGTERM")
	}
	if n, _ := store.Collection(migrate.Collection).CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatal("a migration was applied while another instance held the lease")
	}
}
