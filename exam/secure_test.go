package exam

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tyokyky/tyokyky/course"
)

// The exam's eligibility rule: a learner who has not completed every
// module gets no attempt (and is told which modules remain); with
// eligibility: none anyone may start.
func TestEligibilityRule(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	pub := published(t)
	if pub.Course.Exam.Rules.Eligibility != course.EligibleAllModules {
		t.Fatalf("the default eligibility = %q", pub.Course.Exam.Rules.Eligibility)
	}
	_, _, err := s.Start(ctx, "new", pub, nil)
	var ne *NotEligibleError
	if !errors.As(err, &ne) || !errors.Is(err, ErrNotEligible) || len(ne.Modules) != 2 || ne.Modules[0].Slug != "ensimmainen" {
		t.Fatalf("a learner with no progress: %v", err)
	}
	if list, err := s.ForUser(ctx, "new"); err != nil || len(list) != 0 {
		t.Fatalf("a refused start left attempts: %v %v", list, err)
	}
	// The first module completed, the second only opened: it remains.
	half := completed(pub)
	half["toinen/jatko"] = &course.SectionProgress{Module: "toinen", Section: "jatko", Seconds: 600}
	if _, _, err := s.Start(ctx, "half", pub, half); !errors.As(err, &ne) || len(ne.Modules) != 1 || ne.Modules[0].Slug != "toinen" {
		t.Fatalf("a learner with one module of two: %v", err)
	}
	if a, created, err := s.Start(ctx, "half", pub, completed(pub)); err != nil || !created || a.Number != 1 {
		t.Fatalf("every module completed: %v %v", created, err)
	}
	// An open attempt resumes whatever the progress says now.
	if _, created, err := s.Start(ctx, "half", pub, nil); err != nil || created {
		t.Fatalf("resuming: %v %v", created, err)
	}
	anyone := published(t)
	anyone.Course.Exam.Rules.Eligibility = course.EligibleNone
	if _, created, err := s.Start(ctx, "anyone", anyone, nil); err != nil || !created {
		t.Fatalf("eligibility none: %v %v", created, err)
	}
}

// Every attempt has option ids of its own, at random and in a random
// order: none is the bank's letter, none recurs in another attempt, and
// an answer in the bank's letters or in another attempt's ids is refused.
func TestOptionIDsAreTheAttempts(t *testing.T) {
	ctx := context.Background()
	pub := published(t)
	ex := pub.Course.Exam
	seen := map[string]bool{}
	orders := map[string]bool{}
	for i := 0; i < 30; i++ {
		d := drawItem(ex.ByID["e-monta"])
		var order []string
		for _, id := range d.Options {
			if ex.ByID["e-monta"].Option(id) != nil || len(id) < 8 {
				t.Fatalf("option id %q is (like) the bank's", id)
			}
			if seen[id] {
				t.Fatalf("option id %q in two draws", id)
			}
			seen[id] = true
			order = append(order, d.BankOption(id))
		}
		orders[strings.Join(order, "")] = true
		if sorted := slices.Sorted(slices.Values(order)); strings.Join(sorted, "") != "abcd" {
			t.Fatalf("the options map back to %v", order)
		}
		letters := &Answer{Choices: []string{"a", "c"}}
		if validAnswer(&d, letters) || Score(&d, letters) != 0 {
			t.Fatal("the bank's letters are accepted")
		}
		if key := d.Key(); Score(&d, &key) != 1 {
			t.Fatal("the attempt's key does not score")
		}
	}
	if len(orders) < 2 {
		t.Fatal("the options come in one order")
	}

	// Two learners, every item drawn for both.
	s := newStore(t)
	pub.Course.Exam.Rules.PerModule = 3
	a, _, err := s.Start(ctx, "a", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Start(ctx, "b", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	va, vb := a.Views(ex), b.Views(ex)
	for i, v := range va {
		if v.Type != course.ItemSingle && v.Type != course.ItemMultiple {
			continue
		}
		var w ItemView
		for _, x := range vb {
			if x.ID == v.ID {
				w = x
			}
		}
		for _, o := range v.Options {
			for _, p := range w.Options {
				if o.ID == p.ID {
					t.Fatalf("item %s: option id %s in two learners' attempts", v.ID, o.ID)
				}
			}
			if len(o.ID) == 1 || o.Text == withdrawn {
				t.Fatalf("item %s: option %+v", v.ID, o)
			}
		}
		d := a.Drawn(v.ID)
		// The key in the bank's letters and B's key: refused.
		var letters []string
		for _, o := range ex.ByID[v.ID].Options {
			if o.Correct {
				letters = append(letters, o.ID)
			}
		}
		bKey := b.Drawn(v.ID).Key()
		for _, wrong := range [][]string{letters, bKey.Choices} {
			if _, err := s.SaveAnswer(ctx, "a", a.ID, d.ID, Answer{Choices: wrong, Seq: int64(i + 1)}); !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("item %s: saving %v = %v", v.ID, wrong, err)
			}
		}
	}
	// True/false and matching items answered right; the choice items'
	// refused answers leave them unanswered, scoring nothing.
	for i := range a.Items {
		d := &a.Items[i]
		if d.Type == course.ItemTrueFalse || d.Type == course.ItemMatching {
			ans := correctAnswer(d)
			ans.Seq = 100
			if _, err := s.SaveAnswer(ctx, "a", a.ID, d.ID, ans); err != nil {
				t.Fatal(err)
			}
		}
	}
	done, err := s.Submit(ctx, "a", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range done.Result.Items {
		d := done.Drawn(r.Item)
		want := 0.0
		if d.Type == course.ItemTrueFalse || d.Type == course.ItemMatching {
			want = 1
		}
		if r.Score != want {
			t.Errorf("item %s (%s) scored %v", r.Item, d.Type, r.Score)
		}
	}
}

// Attempts stored before options had ids of their own (their draw names
// the bank's letters and has no BankIDs) still load, show their texts,
// take answers and grade.
func TestAttemptsWithTheBanksIDsStillWork(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	pub := published(t)
	ex := pub.Course.Exam
	draw := `[{"ID":"e-yksi","Module":"ensimmainen","Type":"single","Options":["c","a","b"],"Correct":["b"]},` +
		`{"ID":"e-monta","Module":"ensimmainen","Type":"multiple","Options":["d","c","b","a"],"Correct":["a","c"]}]`
	if _, err := s.db.Collection(attemptsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "told"}, {Key: "user_id", Value: "old"}, {Key: "number", Value: 1},
		{Key: "started", Value: time.Now().UTC().Truncate(time.Millisecond)}, {Key: "content_version", Value: int64(1)}, {Key: "pass_percent", Value: 70},
		{Key: "draw", Value: draw}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(learnersCollection).InsertOne(ctx, learnerDoc{UserID: "old", Attempts: []string{"told"}, N: 1, Open: "told"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.Get(ctx, "old", "told")
	if err != nil || a.Status != StatusOpen || len(a.Items) != 2 {
		t.Fatalf("the old attempt = %+v %v", a, err)
	}
	views := a.Views(ex)
	if views[0].Options[0] != (Choice{ID: "c", Text: "Väärä B"}) || views[0].Options[2] != (Choice{ID: "b", Text: "Oikea"}) {
		t.Fatalf("the old attempt's options = %+v", views[0].Options)
	}
	for i, ans := range []Answer{{Choices: []string{"b"}}, {Choices: []string{"a", "c"}}} {
		ans.Seq = 1
		if _, err := s.SaveAnswer(ctx, "old", "told", a.Items[i].ID, ans); err != nil {
			t.Fatal(err)
		}
	}
	done, err := s.Submit(ctx, "old", "told")
	if err != nil || done.Result.Score != 2 || !done.Result.Passed {
		t.Fatalf("the old attempt graded %+v %v", done.Result, err)
	}
	rev := done.Review(ex, true)
	if c := rev[0].Choices[2]; c.ID != "b" || c.Text != "Oikea" || !c.Chosen || c.Correct == nil || !*c.Correct || c.Feedback != "Juuri näin." {
		t.Fatalf("the old attempt's review = %+v", rev[0].Choices)
	}
	if st := ComputeStats([]*Attempt{done}); st.Items[0].Choices["b"]+st.Items[1].Choices["b"] != 1 {
		t.Fatalf("statistics of the old attempt = %+v", st.Items)
	}
}

// The review rule: after a failed attempt that is not the last, nothing
// says which items were right (only the total and the modules' totals);
// after passing it does. "always" and "never" override.
func TestReviewRuleHidesItemsOfAFailedAttempt(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	pub := published(t)
	ex := pub.Course.Exam
	a, _, err := s.Start(ctx, "u", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	// One item right of four: failed.
	key := correctAnswer(&a.Items[0])
	key.Seq = 1
	if _, err := s.SaveAnswer(ctx, "u", a.ID, a.Items[0].ID, key); err != nil {
		t.Fatal(err)
	}
	failed, err := s.Submit(ctx, "u", a.ID)
	if err != nil || failed.Result.Passed || failed.Result.Score != 1 {
		t.Fatalf("failed = %+v %v", failed.Result, err)
	}
	all, _ := s.ForUser(ctx, "u")
	if ShowKeys(failed, all, ex.Rules) {
		t.Fatal("a failed first attempt of two shows its items")
	}
	for _, r := range failed.Review(ex, false) {
		if r.Score != nil || r.Correct != nil || r.Key != nil || r.Feedback != "" {
			t.Fatalf("hidden review %+v", r)
		}
		for _, c := range r.Choices {
			if c.Correct != nil || c.Feedback != "" {
				t.Fatalf("hidden review choice %+v", c)
			}
		}
		for _, p := range r.Pairs {
			if p.Correct != nil || p.Right != "" {
				t.Fatalf("hidden review pair %+v", p)
			}
		}
	}
	shown := failed.ForLearner(false)
	data, _ := json.Marshal(shown)
	if strings.Contains(string(data), `"items"`) || shown.Result.Score != 1 || failed.Result.Items == nil {
		t.Fatalf("the learner's result: %s", data)
	}
	mods := failed.Result.Modules(pub.Course)
	if len(mods) != 2 || mods[0].Module != "ensimmainen" || mods[0].Max != 2 || mods[0].Score != 1 || mods[1].Score != 0 || mods[0].Title == "" {
		t.Fatalf("the modules' totals = %+v", mods)
	}
	rules := ex.Rules
	rules.Review = course.ReviewAlways
	if !ShowKeys(failed, all, rules) {
		t.Fatal("review: always hides a failed attempt")
	}
	// The second attempt, passed: shown, unless the rule says never.
	now = now.Add(25 * time.Hour)
	b, _, err := s.Start(ctx, "u", pub, completed(pub))
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Items {
		key := correctAnswer(&b.Items[i])
		key.Seq = 1
		if _, err := s.SaveAnswer(ctx, "u", b.ID, b.Items[i].ID, key); err != nil {
			t.Fatal(err)
		}
	}
	passed, err := s.Submit(ctx, "u", b.ID)
	if err != nil || !passed.Result.Passed {
		t.Fatalf("passed = %+v %v", passed.Result, err)
	}
	all, _ = s.ForUser(ctx, "u")
	if !ShowKeys(passed, all, ex.Rules) {
		t.Fatal("a passed attempt hides its items")
	}
	if r := passed.Review(ex, true)[0]; r.Score == nil || *r.Score != 1 || r.Correct == nil || !*r.Correct {
		t.Fatalf("shown review %+v", r)
	}
	rules.Review = course.ReviewNever
	if ShowKeys(passed, all, rules) {
		t.Fatal("review: never shows a passed attempt")
	}
}
