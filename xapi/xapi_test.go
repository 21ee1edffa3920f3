package xapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/internal/egress"
	"github.com/tyokyky/tyokyky/internal/fault"
	"github.com/tyokyky/tyokyky/internal/lrstest"
	"github.com/tyokyky/tyokyky/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env, testenv.StartDatabase) }

const site = "https://kurssi.example.fi"

type fakeProgress map[string]*course.SectionProgress

func (f fakeProgress) ForUser(context.Context, string) (map[string]*course.SectionProgress, error) {
	return f, nil
}

type fakeAttempts []*exam.Attempt

func (f fakeAttempts) ForUser(context.Context, string) ([]*exam.Attempt, error) { return f, nil }

type fakeCerts []*cert.Certificate

func (f fakeCerts) ForUser(context.Context, string) ([]*cert.Certificate, error) { return f, nil }

type fixture struct {
	svc      *Service
	db       *database.DB
	lrs      *lrstest.Server
	conf     *LRS
	c        *course.Course
	progress fakeProgress
	attempts *fakeAttempts
	certs    *fakeCerts
	clock    *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func key(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func setup(t testing.TB) *fixture {
	t.Helper()
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	db := env.Database()
	if err := EnsureIndexes(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, c: c, progress: fakeProgress{}, attempts: &fakeAttempts{}, certs: &fakeCerts{}, clock: &clock{t: time.Now().UTC()}}
	f.svc = New(Options{DB: db, KeySecret: key(t), BaseURL: site, Allow: egress.Loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: f.clock.now,
		Sources: Sources{Course: func() *course.Course { return c }, Progress: f.progress, Attempts: f.attempts, Certificates: f.certs},
		EmailOf: func(context.Context, string) (string, error) { return "liisa@example.fi", nil }})
	f.lrs = lrstest.Start(t)
	conf, errs := f.svc.AddLRS(t.Context(), LRS{Name: "Analytiikka", Endpoint: f.lrs.Endpoint, Username: f.lrs.Username}, f.lrs.Password)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	f.conf = conf
	return f
}

// completeModule marks every section of the first module completed.
func (f *fixture) completeModule(m *course.Module) {
	for i, s := range m.Sections {
		at := time.Date(2026, 12, 1, 10, i, 0, 0, time.UTC)
		f.progress[m.Slug+"/"+s.Slug] = &course.SectionProgress{CompletedAt: &at, Seconds: 60 * (i + 1)}
	}
}

func (f *fixture) sendAll(t *testing.T) {
	t.Helper()
	for range 100 {
		n, err := f.svc.SendOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the outbox does not empty")
}

func verbs(stmts []map[string]any) []string {
	var out []string
	for _, st := range stmts {
		out = append(out, st["verb"].(map[string]any)["id"].(string)[strings.LastIndex(st["verb"].(map[string]any)["id"].(string), "/")+1:])
	}
	return out
}

func TestConfigurationIsCheckedAndThePasswordSealed(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	_, errs := f.svc.AddLRS(ctx, LRS{Name: "x", Endpoint: "http://lrs.example.fi/xapi", Username: "a:b", Actor: "email"}, "")
	codes := map[string]bool{}
	for _, err := range errs {
		if fe, ok := fault.As(err); ok {
			codes[fe.Code] = true
		}
	}
	for _, c := range []string{"xapi_lrs_name_invalid", "xapi_lrs_endpoint_invalid", "xapi_lrs_username_invalid", "xapi_lrs_password_invalid", "xapi_lrs_actor_invalid"} {
		if !codes[c] {
			t.Errorf("%s not refused: %v", c, errs)
		}
	}
	if _, errs := f.svc.AddLRS(ctx, LRS{Name: "Toinen", Endpoint: "https://lrs.example.fi/xapi?x=1", Username: "u"}, "p"); len(errs) != 1 {
		t.Fatalf("a query in the endpoint: %v", errs)
	}
	// The password is sealed: not in the document, opened only with the
	// key secret, kept when a change leaves it empty.
	raw, err := f.db.Collection(lrsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: f.conf.ID}}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), f.lrs.Password) {
		t.Fatal("the password is stored in clear")
	}
	if f.conf.Endpoint != f.lrs.Endpoint || f.conf.Actor != ActorAccount || !f.conf.Active {
		t.Fatalf("%+v", f.conf)
	}
	ch := *f.conf
	ch.Name = "Analytiikka 2"
	if _, errs := f.svc.ChangeLRS(ctx, ch, ""); len(errs) > 0 {
		t.Fatal(errs)
	}
	l, _ := f.svc.LRS(ctx, f.conf.ID)
	if pw, err := l.password(f.svc.o.KeySecret); err != nil || pw != f.lrs.Password || l.Name != "Analytiikka 2" {
		t.Fatalf("after a change: %q %v", pw, err)
	}
	if _, err := l.password(key(t)); err == nil {
		t.Fatal("another key secret opened the password")
	}
	if _, err := f.svc.LRS(ctx, "nope"); !errors.Is(err, ErrLRSNotFound) {
		t.Fatal(err)
	}
}

// A learner's records become valid statements at the LRS, each once:
// experienced for each section, completed for the module, answered and
// passed/failed for each attempt, earned for the certificate, launched.
func TestRecordsBecomeValidStatementsOnce(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	m := f.c.Modules[0]
	f.completeModule(m)
	started := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	sub1, sub2 := started.Add(14*time.Minute+3*time.Second), started.Add(24*time.Hour+20*time.Minute)
	*f.attempts = fakeAttempts{
		{ID: "a1", Started: started, Submitted: &sub1, Result: &exam.Result{Score: 8, Max: 20, Percent: 40, Passed: false}},
		{ID: "a2", Started: started.Add(24 * time.Hour), Submitted: &sub2, Result: &exam.Result{Score: 17.5, Max: 20, Percent: 87.5, Passed: true}},
		{ID: "open", Started: sub2},
	}
	issued := sub2.Add(time.Second)
	*f.certs = fakeCerts{{ID: "c1", URL: site + "/todistus/c1", Issued: issued}, {ID: "c0", URL: site + "/todistus/c0", Issued: issued, Revoked: &cert.Revocation{}}}
	n, err := f.svc.Queue(ctx, "u1")
	want := len(m.Sections) + 1 + 4 + 1
	if err != nil || n != want {
		t.Fatalf("queued %d (%v), want %d", n, err, want)
	}
	if n, _ := f.svc.Queue(ctx, "u1"); n != 0 {
		t.Fatalf("queued again: %d", n)
	}
	if err := f.svc.LaunchedFrom(ctx, "u1", "/osiot/"+m.Slug, started); err != nil {
		t.Fatal(err)
	}
	f.sendAll(t)
	stmts := f.lrs.Statements()
	if len(stmts) != want+1 {
		t.Fatalf("the LRS has %d statements: %v (refused %v)", len(stmts), verbs(stmts), f.lrs.Refused())
	}
	if r := f.lrs.Refused(); len(r) > 0 {
		t.Fatalf("refused: %v", r)
	}
	byVerb := map[string][]map[string]any{}
	for _, st := range stmts {
		if err := lrstest.Validate(st); err != nil {
			t.Fatal(err)
		}
		actor := st["actor"].(map[string]any)
		if acc := actor["account"].(map[string]any); acc["homePage"] != site+"/" || acc["name"] != "u1" || actor["mbox"] != nil {
			t.Fatalf("actor %v", actor)
		}
		v := st["verb"].(map[string]any)
		if d := v["display"].(map[string]any); d["fi-FI"] == nil || d["sv-SE"] == nil || d["en-US"] == nil {
			t.Fatalf("display %v", d)
		}
		if cx := st["context"].(map[string]any); cx["registration"] != Registration(site, "u1") || cx["language"] != "fi-FI" {
			t.Fatalf("context %v", cx)
		}
		id := v["id"].(string)
		byVerb[id[strings.LastIndex(id, "/")+1:]] = append(byVerb[id[strings.LastIndex(id, "/")+1:]], st)
	}
	if len(byVerb["experienced"]) != len(m.Sections) || len(byVerb["completed"]) != 1 || len(byVerb["answered"]) != 2 ||
		len(byVerb["passed"]) != 1 || len(byVerb["failed"]) != 1 || len(byVerb["earned"]) != 1 || len(byVerb["launched"]) != 1 {
		t.Fatalf("verbs %v", verbs(stmts))
	}
	sec := byVerb["experienced"][0]
	obj := sec["object"].(map[string]any)
	if obj["id"] != site+"/osiot/"+m.Slug+"/"+m.Sections[0].Slug || obj["definition"].(map[string]any)["type"] != TypeLesson {
		t.Fatalf("section object %v", obj)
	}
	ca := sec["context"].(map[string]any)["contextActivities"].(map[string]any)
	if ca["parent"].([]any)[0].(map[string]any)["id"] != site+"/osiot/"+m.Slug || ca["grouping"].([]any)[0].(map[string]any)["id"] != site+"/" {
		t.Fatalf("section context %v", ca)
	}
	if mod := byVerb["completed"][0]; mod["object"].(map[string]any)["definition"].(map[string]any)["type"] != TypeModule ||
		mod["timestamp"] != Timestamp(*f.progress[m.Slug+"/"+m.Sections[len(m.Sections)-1].Slug].CompletedAt) {
		t.Fatalf("module statement %v", mod)
	}
	res := byVerb["passed"][0]["result"].(map[string]any)
	if sc := res["score"].(map[string]any); sc["scaled"] != 0.875 || sc["raw"] != 17.5 || sc["max"] != float64(20) || res["success"] != true || res["duration"] != "PT20M" {
		t.Fatalf("passed result %v", res)
	}
	if res := byVerb["failed"][0]["result"].(map[string]any); res["success"] != false || res["duration"] != "PT14M3S" || res["score"].(map[string]any)["scaled"] != 0.4 {
		t.Fatalf("failed result %v", res)
	}
	if e := byVerb["earned"][0]["object"].(map[string]any); e["id"] != site+"/todistus/c1" || e["definition"].(map[string]any)["type"] != TypeCertificate {
		t.Fatalf("earned %v", e)
	}
	if l := byVerb["launched"][0]["object"].(map[string]any); l["id"] != site+"/osiot/"+m.Slug {
		t.Fatalf("launched %v", l)
	}
	// Everything sent, nothing sent twice.
	if n, _ := f.svc.SendOnce(ctx); n != 0 {
		t.Fatal("sent again")
	}
	if qs, _ := f.svc.Queued(ctx); len(qs) != 0 {
		t.Fatalf("delivered statements left in the queue: %+v", qs)
	}
	if r := f.lrs.Requests(); r != 1 {
		t.Fatalf("%d requests for one batch", r)
	}
}

// Statements go in batches of at most Batch, one POST each.
func TestBatchesAreBounded(t *testing.T) {
	f := setup(t)
	f.svc.o.Batch = 3
	f.completeModule(f.c.Modules[0])
	f.completeModule(f.c.Modules[1])
	n, err := f.svc.Queue(t.Context(), "u1")
	if err != nil || n < 5 {
		t.Fatalf("%d %v", n, err)
	}
	f.sendAll(t)
	total := 0
	for _, b := range f.lrs.Batches() {
		if b > 3 {
			t.Fatalf("a batch of %d", b)
		}
		total += b
	}
	if total != n || len(f.lrs.Statements()) != n {
		t.Fatalf("%d sent in %v, %d stored", total, f.lrs.Batches(), len(f.lrs.Statements()))
	}
}

// 500 is tried again after the back-off, 429 after its Retry-After, and
// nothing sooner; an LRS that answers no more is tried again too.
func TestRetriesAfterFailures(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.completeModule(f.c.Modules[0])
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.lrs.Fail(1, 500, "")
	if n, _ := f.svc.SendOnce(ctx); n == 0 {
		t.Fatal("nothing tried")
	}
	if n, _ := f.svc.SendOnce(ctx); n != 0 || len(f.lrs.Statements()) != 0 {
		t.Fatal("tried again before the back-off")
	}
	f.clock.add(time.Minute)
	f.lrs.Fail(1, 429, "120")
	if n, _ := f.svc.SendOnce(ctx); n == 0 {
		t.Fatal("not tried after the back-off")
	}
	f.clock.add(119 * time.Second)
	if n, _ := f.svc.SendOnce(ctx); n != 0 {
		t.Fatal("tried before Retry-After")
	}
	f.clock.add(2 * time.Second)
	f.sendAll(t)
	if len(f.lrs.Statements()) != len(f.c.Modules[0].Sections)+1 {
		t.Fatalf("%d stored", len(f.lrs.Statements()))
	}
	if qs, _ := f.svc.Queued(ctx); len(qs) != 0 || f.lrs.Requests() != 3 {
		t.Fatalf("%d requests; left %+v", f.lrs.Requests(), qs)
	}
}

// An invalid statement does not hold back the rest of its batch: the LRS
// refuses the batch, each goes alone, the bad one is given up after
// MaxRefusals tries; a statement the LRS has already counts as sent.
func TestABadStatementDoesNotBlockTheOthers(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.completeModule(f.c.Modules[0])
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	qs, _ := f.svc.Queued(ctx)
	// One statement broken in the queue (as a bug would make it), one
	// the LRS already has (a try whose answer was lost).
	broken := strings.Replace(mustStatement(t, f, qs[0].ID), `"PT`, `"about `, 1)
	if _, err := f.db.Collection(queueCollection).UpdateByID(ctx, qs[0].ID, bson.D{{Key: "$set", Value: bson.D{{Key: "statement", Value: broken}}}}); err != nil {
		t.Fatal(err)
	}
	f.lrs.Fail(0, 0, "")
	var already map[string]any
	_ = json.Unmarshal([]byte(mustStatement(t, f, qs[1].ID)), &already)
	if err := postOne(f, already); err != nil {
		t.Fatal(err)
	}
	for range MaxRefusals {
		f.sendAll(t)
		f.clock.add(2 * time.Hour)
	}
	bad, all := qs[0].ID, len(qs)
	qs, _ = f.svc.Queued(ctx)
	if len(qs) != 1 || qs[0].ID != bad || qs[0].State != StateFailed || !strings.Contains(qs[0].LastError, "400") || qs[0].Attempts != MaxRefusals {
		t.Fatalf("left in the queue: %+v", qs)
	}
	if len(f.lrs.Statements()) != all-1 {
		t.Fatalf("%d stored of %d", len(f.lrs.Statements()), all-1)
	}
}

func mustStatement(t *testing.T, f *fixture, id string) string {
	var q queued
	if err := f.db.Collection(queueCollection).FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&q); err != nil {
		t.Fatal(err)
	}
	return q.Statement
}

func postOne(f *fixture, st map[string]any) error {
	l, _ := f.svc.LRS(context.Background(), f.conf.ID)
	b, _ := json.Marshal([]any{st})
	return f.svc.post(context.Background(), l, f.lrs.Password, b, "")
}

// Two senders at once send each statement once (each try is claimed by
// an insert).
func TestTwoSendersSendEachStatementOnce(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.svc.o.Batch = 2
	for _, m := range f.c.Modules {
		f.completeModule(m)
	}
	n, _ := f.svc.Queue(ctx, "u1")
	other := New(f.svc.o)
	var wg sync.WaitGroup
	for _, s := range []*Service{f.svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if k, err := s.SendOnce(ctx); err != nil || k == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, b := range f.lrs.Batches() {
		total += b
	}
	if total != n || len(f.lrs.Statements()) != n {
		t.Fatalf("%d statements posted for %d queued", total, n)
	}
}

// Deleting a person voids what the LRS has of them (by the site's own
// account, a StatementRef each), drops what was never sent, and keeps
// nothing of them in the queue.
func TestDeletionVoidsTheStatements(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	m := f.c.Modules[0]
	f.completeModule(m)
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.sendAll(t)
	sent := f.lrs.Statements()
	// Something more, never sent.
	f.completeModule(f.c.Modules[1])
	if n, _ := f.svc.Queue(ctx, "u1"); n == 0 {
		t.Fatal("nothing more queued")
	}
	if err := f.svc.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.sendAll(t)
	if len(f.lrs.Refused()) > 0 {
		t.Fatal(f.lrs.Refused())
	}
	for _, st := range sent {
		by := f.lrs.VoidedBy(st["id"].(string))
		if by == "" {
			t.Fatalf("%v not voided", st["id"])
		}
		v := f.lrs.Statement(by)
		if v["actor"].(map[string]any)["account"].(map[string]any)["name"] != ToolAccount || v["object"].(map[string]any)["objectType"] != "StatementRef" {
			t.Fatalf("voiding statement %v", v)
		}
	}
	if got := len(f.lrs.Statements()); got != 2*len(sent) {
		t.Fatalf("the LRS has %d statements, want %d (none of the unsent ones)", got, 2*len(sent))
	}
	qs, _ := f.svc.Queued(ctx)
	for _, q := range qs {
		if q.UserID != "" || q.Verb != Voided.ID {
			t.Fatalf("the queue keeps %+v", q)
		}
		if raw := mustStatement(t, f, q.ID); strings.Contains(raw, `"u1"`) {
			t.Fatalf("the queue keeps the person: %s", raw)
		}
	}
	if err := f.db.Collection(peopleCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "u1"}}).Err(); err == nil {
		t.Fatal("the person's list is kept")
	}
	// Deleting again (a retry) does nothing more.
	if err := f.svc.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
}

// An LRS named by e-mail gets mbox actors; an inactive LRS gets nothing.
func TestActorModesAndInactiveStores(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	mail := lrstest.Start(t)
	l, errs := f.svc.AddLRS(ctx, LRS{Name: "Sähköposti", Endpoint: mail.Endpoint, Username: mail.Username, Actor: ActorMbox}, mail.Password)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	off := *f.conf
	off.Active = false
	if _, errs := f.svc.ChangeLRS(ctx, off, ""); len(errs) > 0 {
		t.Fatal(errs)
	}
	f.completeModule(f.c.Modules[0])
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.sendAll(t)
	if len(f.lrs.Statements()) != 0 {
		t.Fatal("an inactive LRS got statements")
	}
	st := mail.Statements()
	if len(st) == 0 || st[0]["actor"].(map[string]any)["mbox"] != "mailto:liisa@example.fi" || st[0]["actor"].(map[string]any)["account"] != nil {
		t.Fatalf("%v", st)
	}
	_ = l
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "PT0S", 3 * time.Second: "PT3S", 14*time.Minute + 3500*time.Millisecond: "PT14M3.5S",
		2 * time.Hour: "PT2H", 25*time.Hour + time.Minute: "PT25H1M"} {
		if got := Duration(d); got != want || !lrstest.IsDuration(got) {
			t.Errorf("Duration(%v) = %s, want %s", d, got, want)
		}
	}
	if StatementID(site, "k") != StatementID(site, "k") || StatementID(site, "k") == StatementID(site, "l") || StatementID(site, "k")[14] != '5' {
		t.Fatal("statement ids are not name-based")
	}
}

// A statement being sent while its person is deleted is voided only
// after its try's claim runs out, so the voiding never arrives first; one
// never tried is dropped without a voiding statement.
func TestDeletionWaitsForATryUnderWay(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.completeModule(f.c.Modules[1]) // one section: experienced and completed
	if n, err := f.svc.Queue(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("%d %v", n, err)
	}
	qs, _ := f.svc.Queued(ctx)
	// Another sender has claimed the first one's try and is sending it.
	if _, ok, err := f.svc.claimTry(ctx, qs[0].ID, 0, "another"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := f.svc.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	after, _ := f.svc.Queued(ctx)
	if len(after) != 1 || after[0].Verb != Voided.ID || after[0].StatementID != StatementID(site, "voided|"+qs[0].StatementID) {
		t.Fatalf("queued after the deletion: %+v", after)
	}
	if n, _ := f.svc.SendOnce(ctx); n != 0 {
		t.Fatal("the voiding statement was sent while the try was under way")
	}
	f.clock.add(claimTTL + time.Second)
	f.sendAll(t)
	st := f.lrs.Statements()
	if len(st) != 1 || st[0]["object"].(map[string]any)["id"] != qs[0].StatementID {
		t.Fatalf("the LRS has %v", st)
	}
}

// Delivered statements leave the queue at once; given-up ones and old
// claims are purged after their time; waiting ones stay.
func TestPurge(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	f.completeModule(f.c.Modules[0])
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	qs, _ := f.svc.Queued(ctx)
	broken := strings.Replace(mustStatement(t, f, qs[0].ID), `"PT`, `"about `, 1)
	if _, err := f.db.Collection(queueCollection).UpdateByID(ctx, qs[0].ID, bson.D{{Key: "$set", Value: bson.D{{Key: "statement", Value: broken}}}}); err != nil {
		t.Fatal(err)
	}
	for range MaxRefusals {
		f.sendAll(t)
		f.clock.add(2 * time.Hour)
	}
	f.completeModule(f.c.Modules[1]) // queued, not sent
	if _, err := f.svc.Queue(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	f.clock.add(29 * 24 * time.Hour)
	if k, _ := f.svc.Purge(ctx, 30*24*time.Hour); k != 0 {
		t.Fatalf("purged %d too early", k)
	}
	f.clock.add(2 * 24 * time.Hour)
	if k, err := f.svc.Purge(ctx, 30*24*time.Hour); k != 1 || err != nil {
		t.Fatalf("purged %d: %v", k, err)
	}
	qs, _ = f.svc.Queued(ctx)
	if len(qs) != 2 {
		t.Fatalf("left %+v", qs)
	}
	for _, q := range qs {
		if q.State != StatePending {
			t.Fatalf("left %+v", q)
		}
	}
	if c, _ := f.db.Collection(claimsCollection).CountDocuments(ctx, bson.D{}); c != 0 {
		t.Fatalf("%d old claims left", c)
	}
}

// A launch's target names its activity: a module of the course, the
// exam, or else the course.
func TestLaunchedTargets(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	m := f.c.Modules[0]
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for i, target := range []string{"/osiot/" + m.Slug + "/" + m.Sections[0].Slug + "?x=1#y", "/tentti", "/osiot/eiole", "/"} {
		if err := f.svc.LaunchedFrom(ctx, "u1", target, at.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.LaunchedFrom(ctx, "u1", "/tentti", at.Add(time.Second)); err != nil { // the same launch again
		t.Fatal(err)
	}
	f.sendAll(t)
	st := f.lrs.Statements()
	var got []string
	for _, s := range st {
		got = append(got, s["object"].(map[string]any)["id"].(string))
	}
	want := []string{site + "/osiot/" + m.Slug, site + "/tentti", site + "/", site + "/"}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("launched %v, want %v", got, want)
	}
	for _, s := range st {
		if obj := s["object"].(map[string]any); obj["id"] == site+"/osiot/"+m.Slug && obj["definition"].(map[string]any)["name"].(map[string]any)["fi-FI"] != m.Title {
			t.Fatalf("the module's name %v", obj)
		}
	}
}
