package report

import (
	"context"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/database"
	"github.com/tyokyky/tyokyky/study"
)

// world is a fresh database with the real stores, each telling the
// summaries of its changes.
type world struct {
	ctx      context.Context
	pub      *course.Published
	accounts *account.Store
	progress *study.Progress
	exams    *exam.Store
	certs    *cert.Store
	sums     *Summaries
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	db := env.Database()
	for _, ensure := range []func(context.Context, *database.DB) error{account.EnsureIndexes, study.EnsureIndexes, exam.EnsureIndexes, cert.EnsureIndexes} {
		if err := ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	w := &world{ctx: ctx, pub: &course.Published{Version: 1, Course: c}}
	w.accounts = account.NewStore(db)
	w.progress = study.NewProgress(db)
	w.exams = exam.NewStore(db, nil)
	keys, err := cert.NewKeys(db, cert.KeyOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	w.certs = cert.NewStore(db, keys, cert.Options{BaseURL: "https://kurssi.example.fi", Issuer: cert.Issuer{ID: "https://kurssi.example.fi/myontaja", Name: "Testi"},
		Course:     func() cert.Course { return cert.Course{ID: "https://kurssi.example.fi/", Title: "Kurssi"} },
		HolderName: func(context.Context, string) (string, error) { return "Testi Oppija", nil },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil))})
	w.sums = NewSummaries(db, Sources{Accounts: w.accounts, Progress: w.progress, Exam: w.exams, Certs: w.certs,
		Course: func() *course.Course { return w.pub.Course }}, nil)
	w.sums.Delay = 0
	w.sums.Follow()
	return w
}

// input reads every source row, as the reports did before summaries.
func (w *world) input(t testing.TB) Input {
	t.Helper()
	in := Input{Course: w.pub.Course}
	var err error
	if in.Learners, err = w.accounts.AccountRows(w.ctx); err != nil {
		t.Fatal(err)
	}
	if in.Records, err = w.progress.RecordRows(w.ctx); err != nil {
		t.Fatal(err)
	}
	if in.Outcomes, err = w.exams.OutcomeRows(w.ctx); err != nil {
		t.Fatal(err)
	}
	if in.Issued, err = w.certs.IssuedRows(w.ctx); err != nil {
		t.Fatal(err)
	}
	return in
}

// learner is one the sequence made.
type learner struct {
	id, email string
	attempts  []string // submitted
	certs     []string
}

// play applies n random events through the stores, touching as they do.
func (w *world) play(t *testing.T, rng *rand.Rand, n int) {
	t.Helper()
	ctx := w.ctx
	var people []*learner
	var sections []*course.Section
	for _, m := range w.pub.Course.Modules {
		sections = append(sections, m.Sections...)
	}
	orgs := account.Organisations[:3]
	units := []string{"", "u1", "u2", "u3"}
	pick := func() *learner {
		if len(people) == 0 {
			return nil
		}
		return people[rng.Intn(len(people))]
	}
	for i := 0; i < n; i++ {
		l := pick()
		switch k := rng.Intn(100); {
		case k < 10 || l == nil: // a learner joins
			o := rng.Intn(len(orgs))
			id := account.NewID()
			u, err := w.accounts.CreateExternal(ctx, account.External{ID: id, Email: id[:12] + "@example.fi", Name: "Oppija " + strconv.Itoa(i),
				Organisation: orgs[o], OrgID: "org" + strconv.Itoa(o), UnitID: units[rng.Intn(len(units))]})
			if err != nil {
				t.Fatal(err)
			}
			people = append(people, &learner{id: u.ID, email: u.Email})
		case k < 45: // progress: time or a completion
			sec := sections[rng.Intn(len(sections))]
			ev := study.Event{Kind: "heartbeat", Seconds: 1 + rng.Intn(30)}
			if rng.Intn(2) == 0 {
				ev = study.Event{Kind: "completed"}
			}
			if _, err := w.progress.Record(ctx, l.id, sec, ev); err != nil && err != study.ErrNotCompleted {
				t.Fatal(err)
			}
		case k < 57: // an attempt submitted, passed or not
			a, _, err := w.exams.Start(ctx, l.id, w.pub, completedAll(w.pub))
			if err != nil {
				continue // the rules may refuse a retake yet
			}
			if rng.Intn(2) == 0 {
				for _, d := range a.Items {
					if _, err := w.exams.SaveAnswer(ctx, l.id, a.ID, d.ID, rightAnswer(&d)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := w.exams.Submit(ctx, l.id, a.ID); err != nil {
				t.Fatal(err)
			}
			l.attempts = append(l.attempts, a.ID)
		case k < 67: // a certificate issued for a submitted attempt
			if len(l.attempts) == 0 {
				continue
			}
			c, err := w.certs.Issue(ctx, l.id, l.attempts[rng.Intn(len(l.attempts))])
			if err != nil {
				t.Fatal(err)
			}
			l.certs = append(l.certs, c.ID)
		case k < 75: // one revoked
			if len(l.certs) == 0 {
				continue
			}
			if _, err := w.certs.Revoke(ctx, l.certs[rng.Intn(len(l.certs))], "admin", "testi"); err != nil && err != cert.ErrRevoked {
				t.Fatal(err)
			}
		case k < 83: // moved to another organisation or unit
			o := rng.Intn(len(orgs))
			if err := w.accounts.SetOrganisation(ctx, l.id, orgs[o], "", "org"+strconv.Itoa(o), units[rng.Intn(len(units))]); err != nil {
				t.Fatal(err)
			}
		case k < 91: // signs in (last active), or changes role
			if rng.Intn(3) == 0 {
				role := []string{account.RoleLearner, account.RoleAuthor}[rng.Intn(2)]
				if _, err := w.accounts.SetRole(ctx, l.email, role); err != nil {
					t.Fatal(err)
				}
			} else {
				u, err := w.accounts.User(ctx, l.id)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := w.accounts.StartSession(ctx, u, false, "test", "127.0.0.1"); err != nil {
					t.Fatal(err)
				}
			}
		default: // a section archived (its records set aside), or the learner deleted
			if k < 94 {
				sec := sections[rng.Intn(len(sections))]
				if _, err := w.progress.SetAside(ctx, sec.Module.Slug, sec.Slug, strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := w.progress.DeleteUser(ctx, l.id); err != nil {
				t.Fatal(err)
			}
			if err := w.exams.DeleteUser(ctx, l.id); err != nil {
				t.Fatal(err)
			}
			if _, err := w.certs.Withdraw(ctx, l.id); err != nil {
				t.Fatal(err)
			}
			if err := w.accounts.Delete(ctx, l.id); err != nil {
				t.Fatal(err)
			}
			for j, p := range people {
				if p == l {
					people = append(people[:j], people[j+1:]...)
					break
				}
			}
		}
		if rng.Intn(3) == 0 { // the worker runs now and then; then every summary is right
			w.sums.Flush(ctx)
			w.agree(t, fmt.Sprintf("after event %d", i))
		}
	}
	w.sums.Flush(ctx)
}

func describe(s *LearnerSummary) string {
	e := "none"
	if s.Exam != nil {
		e = fmt.Sprintf("%+v", *s.Exam)
	}
	return fmt.Sprintf("%+v exam %s", *s, e)
}

// agree checks every stored summary against one computed afresh from
// every source row.
func (w *world) agree(t *testing.T, when string) (Input, []LearnerSummary) {
	t.Helper()
	stored, err := w.sums.All(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := w.input(t)
	fresh := Summarize(in)
	if len(fresh) != len(stored) {
		t.Fatalf("%s: %d summaries stored, %d learners in the sources", when, len(stored), len(fresh))
	}
	for i := range fresh {
		s, ok := stored[fresh[i].ID]
		if !ok {
			t.Fatalf("%s: learner %s has no summary", when, fresh[i].ID)
		}
		if !s.Same(&fresh[i]) {
			t.Fatalf("%s: learner %s:\n stored %s\n fresh  %s", when, fresh[i].ID, describe(s), describe(&fresh[i]))
		}
	}
	return in, fresh
}

func completedAll(pub *course.Published) map[string]*course.SectionProgress {
	now := time.Now()
	out := map[string]*course.SectionProgress{}
	for _, m := range pub.Course.Modules {
		for _, s := range m.Sections {
			out[m.Slug+"/"+s.Slug] = &course.SectionProgress{Module: m.Slug, Section: s.Slug, CompletedAt: &now}
		}
	}
	return out
}

// rightAnswer is the key of a drawn item as an answer.
func rightAnswer(d *exam.Drawn) exam.Answer {
	var a exam.Answer
	switch d.Type {
	case course.ItemSingle, course.ItemMultiple:
		a.Choices = append(a.Choices, d.Correct...)
	case course.ItemTrueFalse:
		v := *d.Answer
		a.Value = &v
	case course.ItemMatching:
		a.Matches = map[string]string{}
		for l, i := range d.LeftIDs {
			for r, j := range d.RightIDs {
				if i == j {
					a.Matches[l] = r
				}
			}
		}
	}
	a.Seq = 1
	return a
}

// TestRebuildEqualsIncremental: after a random sequence of events applied
// through the stores, each touching the summaries as it happens, every
// stored summary equals one computed afresh from every source row, a
// rebuild finds nothing to write, and the report from the summaries
// equals the report from the rows for every filter.
func TestRebuildEqualsIncremental(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("SUMMARY_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	runs := 8
	if testing.Short() {
		runs = 2
	}
	for run := 0; run < runs; run++ {
		seed := seed + int64(run)
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Logf("seed %d (SUMMARY_SEED=%d repeats it)", seed, seed)
			w := newWorld(t)
			w.play(t, rand.New(rand.NewSource(seed)), 200)
			in, fresh := w.agree(t, "at the end")
			withExam, withCert := 0, 0
			for _, f := range fresh {
				if f.Exam != nil {
					withExam++
				}
				if len(f.Certificates) > 0 {
					withCert++
				}
			}
			t.Logf("%d learners, %d progress records, %d with an exam, %d with a certificate", len(fresh), len(in.Records), withExam, withCert)
			n, err := w.sums.Rebuild(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n.Written != 0 || n.Deleted != 0 || n.Learners != len(fresh) || n.Unchanged != len(fresh) {
				t.Errorf("the rebuild after the incremental summaries: %+v", n)
			}
			learnersOnly := in
			learnersOnly.Learners = nil
			for _, l := range in.Learners {
				if l.Role == account.RoleLearner {
					learnersOnly.Learners = append(learnersOnly.Learners, l)
				}
			}
			for _, f := range []Filter{{}, {OrgID: "org1"}, {Organisation: account.Organisations[2]}, {OrgID: "org0", Units: []string{"u1", "u2"}},
				{From: dayOf(time.Now()), To: dayOf(time.Now())}, {To: dayOf(time.Now().AddDate(0, 0, -1))}} {
				want := referenceBuild(learnersOnly, f)
				var got *Report
				if _, err := w.sums.Read(w.ctx, -1, func(all iter.Seq[*LearnerSummary]) { got = Aggregate(w.pub.Course, all, f) }); err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(*got) != fmt.Sprint(*want) {
					t.Errorf("filter %+v:\n from summaries %+v\n from the rows  %+v", f, *got, *want)
				}
			}
		})
	}
}

// A rebuild writes what is missing or wrong and deletes what is left of
// learners who are gone; a second rebuild writes nothing.
func TestRebuildRepairs(t *testing.T) {
	w := newWorld(t)
	w.play(t, rand.New(rand.NewSource(7)), 60)
	all, err := w.sums.All(w.ctx)
	if err != nil || len(all) < 2 {
		t.Fatalf("%d summaries, %v", len(all), err)
	}
	// One summary lost, one wrong, one of nobody.
	var ids []string
	for id := range all {
		ids = append(ids, id)
	}
	coll := w.sums.db.Collection(summariesCollection)
	if _, err := coll.DeleteOne(w.ctx, map[string]string{"_id": ids[0]}); err != nil {
		t.Fatal(err)
	}
	wrong := *all[ids[1]]
	wrong.Modules = append(wrong.Modules, ModuleSummary{Slug: "01-x", Done: 99})
	if err := w.sums.write(w.ctx, &wrong); err != nil {
		t.Fatal(err)
	}
	if err := w.sums.write(w.ctx, &LearnerSummary{ID: "gone", Organisation: "x"}); err != nil {
		t.Fatal(err)
	}
	n, err := w.sums.Rebuild(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n.Written != 2 || n.Deleted != 1 || n.Unchanged != n.Learners-2 {
		t.Fatalf("rebuild = %+v", n)
	}
	if n, err := w.sums.Rebuild(w.ctx); err != nil || n.Written+n.Deleted != 0 {
		t.Fatalf("second rebuild = %+v, %v", n, err)
	}
}

// The worker (Run) follows writes made at once from many goroutines: a
// burst of saves of one learner is recomputed once it settles, and when
// nothing waits any more every summary is right; a report read meanwhile
// never fails.
func TestWorkerFollowsConcurrentWrites(t *testing.T) {
	w := newWorld(t)
	w.sums.Delay = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	go w.sums.Run(ctx)
	var ids []string
	for i := range 6 {
		id := account.NewID()
		if _, err := w.accounts.CreateExternal(w.ctx, account.External{ID: id, Email: id[:12] + "@example.fi", Name: "Oppija " + strconv.Itoa(i),
			Organisation: account.Organisations[i%2], OrgID: "org" + strconv.Itoa(i%2)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var sections []*course.Section
	for _, m := range w.pub.Course.Modules {
		sections = append(sections, m.Sections...)
	}
	done := make(chan error, len(ids))
	for g, id := range ids {
		go func() {
			for k := range 15 {
				ev := study.Event{Kind: "heartbeat", Seconds: 1 + k%5}
				if k%4 == 0 {
					ev = study.Event{Kind: "completed"}
				}
				if _, err := w.progress.Record(w.ctx, id, sections[(g+k)%len(sections)], ev); err != nil && err != study.ErrNotCompleted {
					done <- err
					return
				}
				if k%5 == 0 {
					if _, err := w.sums.Read(w.ctx, time.Minute, func(all iter.Seq[*LearnerSummary]) { Aggregate(w.pub.Course, all, Filter{}) }); err != nil {
						done <- err
						return
					}
				}
			}
			done <- nil
		}()
	}
	for range ids {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.sums.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d learners still wait for their summaries", w.sums.Pending())
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.agree(t, "after the burst")
}

// Where other processes write, a summary written late by a recompute
// that read the records before a change (another instance's, here
// written by hand after this one's) is put right by the second
// recompute Settle later.
func TestSettleCorrectsAStaleWrite(t *testing.T) {
	w := newWorld(t)
	w.sums.Delay, w.sums.Settle, w.sums.othersWrite = 0, 300*time.Millisecond, true
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	go w.sums.Run(ctx)
	id := account.NewID()
	if _, err := w.accounts.CreateExternal(w.ctx, account.External{ID: id, Email: id[:12] + "@example.fi", Name: "Oppija Hidas",
		Organisation: account.Organisations[0], OrgID: "org0"}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func(*LearnerSummary) bool) *LearnerSummary {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if s, err := w.sums.Get(w.ctx, id); err == nil && s != nil && ok(s) {
				return s
			}
		}
		t.Fatalf("no summary %s", what)
		return nil
	}
	stale := waitFor("of the new account", func(s *LearnerSummary) bool { return len(s.Modules) == 0 })
	sec := w.pub.Course.Modules[0].Sections[0]
	if _, err := w.progress.Record(w.ctx, id, sec, study.Event{Kind: "heartbeat", Seconds: 12}); err != nil {
		t.Fatal(err)
	}
	waitFor("with the time spent", func(s *LearnerSummary) bool { return len(s.Modules) == 1 })
	// The other instance's stale recompute lands now.
	if err := w.sums.write(w.ctx, stale); err != nil {
		t.Fatal(err)
	}
	waitFor("put right after Settle", func(s *LearnerSummary) bool { return len(s.Modules) == 1 && s.Modules[0].Seconds == 12 })
	for w.sums.Pending() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	w.agree(t, "after the settle")
}
