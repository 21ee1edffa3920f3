package lti

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/internal/ltitest"
)

// withToolKeys serves the tool's key set to the simulator, which checks
// the tool's client assertions with it.
func withToolKeys(t *testing.T, f *fixture) {
	t.Helper()
	tool := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(f.svc.JWKS(r.Context())) }))
	t.Cleanup(tool.Close)
	f.pf.ToolJWKSURL = tool.URL
}

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{"/": "course", "": "course", "/osiot": "course", "/osiot/tyokyvyn-tuki": "module:tyokyvyn-tuki",
		"/osiot/tyokyvyn-tuki/palvelupolku?x=1#y": "module:tyokyvyn-tuki", "/tentti": "exam", "/tentti/abc/tulos": "exam", "/sanasto": "", "/tentit": ""} {
		if got := ResourceOf(path); got != want {
			t.Errorf("ResourceOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// Scores reach the platform's gradebook through the outbox: a grade link
// made by the launch, a token by client credentials with the tool's
// signed assertion, the score in AGS form; the same score is queued
// once; Reconcile sends what changed; a 429 is tried again after its
// Retry-After.
func TestScoresReachTheGradebook(t *testing.T) {
	f := setup(t)
	withToolKeys(t, f)
	ctx := t.Context()
	l, err := f.launch(t, learner, toolURL+"/osiot/tyokyvyn-tuki/palvelupolku")
	if err != nil {
		t.Fatal(err)
	}
	exam := *learner
	exam.ResourceLink = "rl-exam"
	if _, err := f.launch(t, &exam, toolURL+"/tentti"); err != nil {
		t.Fatal(err)
	}
	links, _ := f.svc.GradeLinks(ctx, l.User.ID)
	if len(links) != 2 {
		t.Fatalf("grade links %+v", links)
	}
	moduleItem, examItem := f.pf.URL+"/lineitems/rl-1", f.pf.URL+"/lineitems/rl-exam"
	if n, err := f.svc.ReportScore(ctx, l.User.ID, "module:tyokyvyn-tuki", Score{Given: 50, Maximum: 100, Activity: ActivityInProgress, Grading: GradingPending}); n != 1 || err != nil {
		t.Fatalf("report = %d %v", n, err)
	}
	if n, _ := f.svc.ReportScore(ctx, l.User.ID, "module:tyokyvyn-tuki", Score{Given: 50, Maximum: 100, Activity: ActivityInProgress, Grading: GradingPending}); n != 0 {
		t.Fatalf("the same score queued again: %d", n)
	}
	if n, err := f.svc.SendScoresOnce(ctx); n != 1 || err != nil {
		t.Fatalf("send = %d %v", n, err)
	}
	got := f.pf.Gradebook(moduleItem, learner.Sub)
	if got == nil || got["scoreGiven"] != float64(50) || got["scoreMaximum"] != float64(100) || got["activityProgress"] != "InProgress" || got["gradingProgress"] != "Pending" {
		t.Fatalf("the gradebook has %v", got)
	}
	if ts, _ := got["timestamp"].(string); !strings.HasSuffix(ts, "Z") || len(ts) != len("2026-12-07T00:00:00.000Z") {
		t.Fatalf("timestamp %q", got["timestamp"])
	}
	// Reconcile: the module done, the exam's best attempt 85 %.
	scoreOf := func(_ context.Context, userID, resource string) (Score, bool, error) {
		switch resource {
		case "module:tyokyvyn-tuki":
			return Score{Given: 100, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded}, true, nil
		case "exam":
			return Score{Given: 85, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded}, true, nil
		}
		return Score{}, false, nil
	}
	if n, err := f.svc.Reconcile(ctx, scoreOf); n != 2 || err != nil {
		t.Fatalf("reconcile = %d %v", n, err)
	}
	if n, _ := f.svc.Reconcile(ctx, scoreOf); n != 0 {
		t.Fatalf("a second reconcile queued %d", n)
	}
	// The platform throttles: the first try answers 429 Retry-After: 1.
	f.pf.Throttle(1)
	if n, _ := f.svc.SendScoresOnce(ctx); n != 2 {
		t.Fatalf("send = %d", n)
	}
	if n, _ := f.svc.SendScoresOnce(ctx); n != 0 {
		t.Fatalf("a throttled score was tried again before its Retry-After: %d", n)
	}
	f.svc.SetClock(func() time.Time { return time.Now().Add(1100 * time.Millisecond) })
	defer f.svc.SetClock(time.Now)
	if n, _ := f.svc.SendScoresOnce(ctx); n != 1 {
		t.Fatalf("after the Retry-After = %d", n)
	}
	if m, e := f.pf.Gradebook(moduleItem, learner.Sub), f.pf.Gradebook(examItem, learner.Sub); m["scoreGiven"] != float64(100) || m["activityProgress"] != "Completed" || e["scoreGiven"] != float64(85) {
		t.Fatalf("the gradebook: module %v, exam %v", m, e)
	}
	if posts := f.pf.ScorePosts(); len(posts) != 4 || posts[1] != 429 {
		t.Fatalf("score posts %v", posts)
	}
	states, _ := f.svc.Scores(ctx, l.User.ID)
	for _, s := range states {
		if s.State != ScoreSent {
			t.Errorf("score %+v", s)
		}
	}
	// Purged after their keep: nothing sent is dropped before it.
	if n, err := f.svc.PurgeScores(ctx, time.Hour); n != 0 || err != nil {
		t.Fatalf("purged %d %v before the keep", n, err)
	}
	f.svc.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if n, err := f.svc.PurgeScores(ctx, time.Hour); n != 3 || err != nil {
		t.Fatalf("purged %d %v after the keep, want the 3 sent", n, err)
	}
	f.svc.SetClock(time.Now)
	f.svc.ReportScore(ctx, l.User.ID, "exam", Score{Given: 90, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded})
	// The account is deleted: its grade links and scores go with it.
	if err := f.svc.DeleteUser(ctx, l.User.ID); err != nil {
		t.Fatal(err)
	}
	links, _ = f.svc.GradeLinks(ctx, l.User.ID)
	states, _ = f.svc.Scores(ctx, l.User.ID)
	if len(links) != 0 || len(states) != 0 {
		t.Fatalf("after the deletion: %d links, %d scores", len(links), len(states))
	}
}

// A token without the score scope: the platform refuses the score (403)
// and the outbox gives it up at once, with the reason.
func TestScoreWithoutTheScope(t *testing.T) {
	f := setup(t)
	withToolKeys(t, f)
	ctx := t.Context()
	f.pf.Grant(ltitest.ScopeLineItem) // not the score scope
	l, err := f.launch(t, learner, toolURL+"/osiot/tyokyvyn-tuki")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.svc.ReportScore(ctx, l.User.ID, "module:tyokyvyn-tuki", Score{Given: 1, Maximum: 2, Activity: ActivityInProgress, Grading: GradingPending}); n != 1 {
		t.Fatal("not queued")
	}
	f.svc.SendScoresOnce(ctx)
	if posts := f.pf.ScorePosts(); len(posts) != 1 || posts[0] != 403 {
		t.Fatalf("score posts %v", posts)
	}
	states, _ := f.svc.Scores(ctx, l.User.ID)
	if len(states) != 1 || states[0].State != ScoreFailed || !strings.Contains(states[0].LastError, "403") || f.pf.Gradebook(f.pf.URL+"/lineitems/rl-1", learner.Sub) != nil {
		t.Fatalf("states %+v", states)
	}
}

// A platform that does not answer: the score waits and is tried again
// after the back-off, then delivered.
func TestScoreRetriedAfterAnOutage(t *testing.T) {
	f := setup(t)
	withToolKeys(t, f)
	ctx := t.Context()
	l, err := f.launch(t, learner, toolURL+"/osiot/tyokyvyn-tuki")
	if err != nil {
		t.Fatal(err)
	}
	f.svc.o.ScoreBackoff = 300 * time.Millisecond
	f.svc.ReportScore(ctx, l.User.ID, "module:tyokyvyn-tuki", Score{Given: 3, Maximum: 4, Activity: ActivityInProgress, Grading: GradingPending})
	good := f.reg.TokenURL
	reg := *f.reg
	reg.TokenURL = "http://127.0.0.1:1/token" // nothing listens
	if _, errs := f.svc.ChangeRegistration(ctx, reg); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n, _ := f.svc.SendScoresOnce(ctx); n != 1 {
		t.Fatal("not tried")
	}
	states, _ := f.svc.Scores(ctx, l.User.ID)
	if states[0].State != ScorePending || states[0].Attempts != 1 || states[0].LastError == "" {
		t.Fatalf("after the outage %+v", states[0])
	}
	reg.TokenURL = good
	f.svc.ChangeRegistration(ctx, reg)
	if n, _ := f.svc.SendScoresOnce(ctx); n != 0 {
		t.Fatal("tried again before the back-off")
	}
	time.Sleep(700 * time.Millisecond) // past the first back-off (150–300 ms here)
	if n, _ := f.svc.SendScoresOnce(ctx); n != 1 {
		t.Fatal("not tried again")
	}
	if got := f.pf.Gradebook(f.pf.URL+"/lineitems/rl-1", learner.Sub); got["scoreGiven"] != float64(3) {
		t.Fatalf("the gradebook %v", got)
	}
}

type fakeProgress map[string]*course.SectionProgress

func (f fakeProgress) ForUser(context.Context, string) (map[string]*course.SectionProgress, error) {
	return f, nil
}

type fakeAttempts []*exam.Attempt

func (f fakeAttempts) ForUser(context.Context, string) ([]*exam.Attempt, error) { return f, nil }

// The scores from our records: a module's and the course's share of
// sections done, the exam's best graded attempt (not the last).
func TestScoreOf(t *testing.T) {
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	done := time.Now()
	records := fakeProgress{}
	src := Sources{Course: func() *course.Course { return c }, Progress: records, Attempts: fakeAttempts{}}
	ctx := t.Context()
	if _, ok, _ := src.ScoreOf(ctx, "u", "module:ensimmainen"); ok {
		t.Fatal("a score before anything was done")
	}
	first := c.Modules[0]
	records[first.Slug+"/"+first.Sections[0].Slug] = &course.SectionProgress{CompletedAt: &done}
	sc, ok, _ := src.ScoreOf(ctx, "u", "module:"+first.Slug)
	want := float64(100 / len(first.Sections))
	if !ok || sc.Given != want || sc.Maximum != 100 || sc.Activity != ActivityInProgress || sc.Grading != GradingPending {
		t.Fatalf("one section of %d done: %+v", len(first.Sections), sc)
	}
	for _, s := range first.Sections {
		records[first.Slug+"/"+s.Slug] = &course.SectionProgress{CompletedAt: &done}
	}
	if sc, _, _ := src.ScoreOf(ctx, "u", "module:"+first.Slug); sc.Given != 100 || sc.Activity != ActivityCompleted || sc.Grading != GradingFullyGraded {
		t.Fatalf("the module done: %+v", sc)
	}
	if sc, _, _ := src.ScoreOf(ctx, "u", "course"); sc.Given >= 100 || sc.Activity != ActivityInProgress {
		t.Fatalf("the course with one module done: %+v", sc)
	}
	if _, ok, _ := src.ScoreOf(ctx, "u", "module:eiole"); ok {
		t.Fatal("a score for a module that is not there")
	}
	// The exam: an open attempt is nothing; the best of 62.5 and 40 is
	// 62.5, though 40 is the last.
	src.Attempts = fakeAttempts{{ID: "open"}}
	if _, ok, _ := src.ScoreOf(ctx, "u", "exam"); ok {
		t.Fatal("a score for an open attempt")
	}
	src.Attempts = fakeAttempts{{ID: "a1", Result: &exam.Result{Percent: 62.5}}, {ID: "a2", Result: &exam.Result{Percent: 40}}, {ID: "open"}}
	if sc, ok, _ := src.ScoreOf(ctx, "u", "exam"); !ok || sc.Given != 62.5 || sc.Activity != ActivityCompleted || sc.Grading != GradingFullyGraded {
		t.Fatalf("the exam: %+v", sc)
	}
}

// The exam placed in two of a platform's courses (two line items): a
// person who launched it from both gets the score in both gradebooks.
// The grade link's key is pinned to what migration 3 writes.
func TestOneResourceInTwoGradebooks(t *testing.T) {
	if k := GradeLinkKey("reg1", "u1", "course", "https://lms.example.fi/ags/1/lineitems/7"); k != "reg1|u1|course|0a32aa62db4c04a9" {
		t.Fatalf("GradeLinkKey = %s", k)
	}
	f := setup(t)
	withToolKeys(t, f)
	ctx := t.Context()
	var userID string
	for _, rl := range []string{"rl-tentti-a", "rl-tentti-b"} {
		p := *learner
		p.ResourceLink = rl
		l, err := f.launch(t, &p, toolURL+"/tentti")
		if err != nil {
			t.Fatal(err)
		}
		userID = l.User.ID
	}
	if links, _ := f.svc.GradeLinks(ctx, userID); len(links) != 2 {
		t.Fatalf("grade links %+v", links)
	}
	if n, err := f.svc.ReportScore(ctx, userID, "exam", Score{Given: 80, Maximum: 100, Activity: ActivityCompleted, Grading: GradingFullyGraded}); n != 2 || err != nil {
		t.Fatalf("report = %d %v", n, err)
	}
	if n, err := f.svc.SendScoresOnce(ctx); n != 2 || err != nil {
		t.Fatalf("send = %d %v", n, err)
	}
	for _, rl := range []string{"rl-tentti-a", "rl-tentti-b"} {
		if got := f.pf.Gradebook(f.pf.URL+"/lineitems/"+rl, learner.Sub); got == nil || got["scoreGiven"] != float64(80) {
			t.Fatalf("the gradebook of %s has %v", rl, got)
		}
	}
}
