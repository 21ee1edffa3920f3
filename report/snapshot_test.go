package report

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randomSummary is a summary with every field set at random: some
// without modules, exam or certificates, some with more than before.
func randomSummary(r *rand.Rand, id string) *LearnerSummary {
	at := func() time.Time {
		if r.IntN(5) == 0 {
			return time.Time{}
		}
		return time.UnixMilli(1_700_000_000_000 + r.Int64N(1e11)).UTC()
	}
	l := &LearnerSummary{ID: id, Role: []string{"learner", "admin", "hr"}[r.IntN(3)], OrgID: fmt.Sprint("org", r.IntN(4)),
		Organisation: fmt.Sprint("Organisation ", r.IntN(4)), UnitID: fmt.Sprint("unit", r.IntN(400)),
		CreatedAt: at(), LastActive: at(), ComputedAt: at()}
	for m := range r.IntN(6) {
		l.Modules = append(l.Modules, ModuleSummary{Slug: fmt.Sprint("module-", m), Done: r.IntN(12), Last: at(), Seconds: r.IntN(1 << 20)})
	}
	if r.IntN(2) == 0 {
		l.Exam = &ExamSummary{Attempts: 1 + r.IntN(3), Passed: r.IntN(2) == 0, LastSubmitted: at()}
	}
	for range r.IntN(3) {
		l.Certificates = append(l.Certificates, CertSummary{Issued: at(), Revoked: r.IntN(4) == 0})
	}
	return l
}

// The snapshot gives back exactly the summaries put into it, through
// replacements with longer and shorter runs, removals and the rebuilds
// of its arrays that they cause.
func TestSnapshotKeepsWhatItIsGiven(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]*LearnerSummary{}
	for i := range 3000 {
		id := fmt.Sprint("user-", i)
		want[id] = randomSummary(r, id)
	}
	p := newSnapshot(want)
	check := func(when string) {
		t.Helper()
		if p.len() != len(want) {
			t.Fatalf("%s: %d summaries, want %d", when, p.len(), len(want))
		}
		for id, w := range want {
			got := p.get(id)
			if got == nil || !got.Same(w) || !got.ComputedAt.Equal(w.ComputedAt) {
				t.Fatalf("%s: %s = %+v, want %+v", when, id, got, w)
			}
		}
		seen := 0
		for l := range p.each {
			if w := want[l.ID]; w == nil || !l.Same(w) {
				t.Fatalf("%s: each gave %+v, want %+v", when, l, w)
			}
			seen++
		}
		if seen != len(want) {
			t.Fatalf("%s: each gave %d summaries, want %d", when, seen, len(want))
		}
	}
	check("made")
	for round := range 6 {
		for id := range want {
			switch r.IntN(4) {
			case 0:
				p.remove(id)
				delete(want, id)
			case 1, 2:
				want[id] = randomSummary(r, id)
				p.put(want[id])
			}
		}
		for i := range 500 {
			id := fmt.Sprint("new-", round, "-", i)
			want[id] = randomSummary(r, id)
			p.put(want[id])
		}
		check(fmt.Sprint("round ", round))
	}
	if p.get("nobody") != nil {
		t.Fatal("a summary for an id never put")
	}
	// Stale rows were dropped along the way, not only counted.
	if len(p.rows) > 2*len(want)+1024 {
		t.Fatalf("%d rows for %d summaries", len(p.rows), len(want))
	}
}

// The rows, modules and certificates hold no pointers (so the collector
// never traces them: the reason the snapshot exists), and a snapshot not
// read yet is empty.
func TestSnapshotRecordsHoldNoPointers(t *testing.T) {
	for _, v := range []any{flatSummary{}, flatModule{}, flatCert{}} {
		ty := reflect.TypeOf(v)
		for i := range ty.NumField() {
			switch ty.Field(i).Type.Kind() {
			case reflect.Bool, reflect.Int32, reflect.Int64, reflect.Uint32:
			default:
				t.Errorf("%s.%s is a %s: the records must hold no pointers", ty.Name(), ty.Field(i).Name, ty.Field(i).Type)
			}
		}
	}
	var none *snapshot
	if none.len() != 0 || none.get("x") != nil {
		t.Fatal("a nil snapshot is not empty")
	}
	for range none.each {
		t.Fatal("a nil snapshot yields")
	}
}
