package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/content"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/study"
)

func fixture(t testing.TB) *course.Course {
	t.Helper()
	c, problems := course.Load(os.DirFS("../course/testdata/course"))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	return c
}

// A synthetic population with known answers.
func TestBuildCountsWhatItShould(t *testing.T) {
	c := fixture(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	m1 := c.Modules[0] // two sections
	done := day(10)
	in := Input{Course: c}
	// Four learners: a finished everything, b half of module 1, c nothing,
	// d registered before the period.
	for i, l := range []struct {
		id      string
		created int
	}{{"a", 5}, {"b", 6}, {"c", 7}, {"d", 1}} {
		_ = i
		org := account.Organisations[0]
		if l.id == "b" {
			org = account.Organisations[1]
		}
		in.Learners = append(in.Learners, account.LearnerRow{ID: l.id, Organisation: org, CreatedAt: day(l.created), LastActive: day(l.created + 1)})
	}
	for _, m := range c.Modules {
		for _, s := range m.Sections {
			in.Records = append(in.Records, study.RecordRow{UserID: "a", Module: m.Slug, Section: s.Slug, Completed: &done, Seconds: 600})
		}
	}
	in.Records = append(in.Records,
		study.RecordRow{UserID: "b", Module: m1.Slug, Section: m1.Sections[0].Slug, Completed: &done, Seconds: 300},
		study.RecordRow{UserID: "b", Module: m1.Slug, Section: m1.Sections[1].Slug, Seconds: 60},
		study.RecordRow{UserID: "someone-else", Module: m1.Slug, Section: m1.Sections[0].Slug, Completed: &done})
	in.Outcomes = []exam.OutcomeRow{{UserID: "a", Attempts: 2, Passed: true, LastSubmitted: &done}, {UserID: "b", Attempts: 1, LastSubmitted: &done}, {UserID: "c"}}
	in.Issued = []cert.IssuedRow{{UserID: "a", Issued: day(10)}, {UserID: "b", Issued: day(10), Revoked: true}, {UserID: "someone-else", Issued: day(10)}}

	r := Build(in, Filter{From: day(4), To: day(7)})
	if r.Learners != 4 || r.Registered != 3 || r.Active != 2 {
		t.Fatalf("learners %d, registered %d, active %d", r.Learners, r.Registered, r.Active)
	}
	mod := r.Modules[0]
	if mod.Sections != 2 || mod.Started != 2 || mod.Completed != 1 || mod.Buckets != [4]int{2, 0, 1, 1} {
		t.Fatalf("module 1 = %+v", mod)
	}
	if r.CourseCompleted != 1 {
		t.Fatalf("course completed = %d", r.CourseCompleted)
	}
	if r.Exam.Learners != 2 || r.Exam.Attempts != 3 || r.Exam.Passed != 1 || r.Exam.PassRate() != 50 {
		t.Fatalf("exam = %+v (%v %%)", r.Exam, r.Exam.PassRate())
	}
	if r.Certificates != 0 { // issued on day 10, after the period
		t.Fatalf("certificates in the period = %d", r.Certificates)
	}
	if all := Build(in, Filter{}); all.Certificates != 1 {
		t.Fatalf("certificates = %d", all.Certificates)
	}
	// Time: module 1 started by a (2×600 s) and b (360 s): (1200+360)/2/60 = 13 min.
	if tm := r.Time[0]; tm.Learners != 2 || tm.AverageMinutes != 13 || tm.BudgetMinutes != m1.Minutes {
		t.Fatalf("time = %+v", tm)
	}
	// The CSV files carry the same figures.
	for _, name := range Names {
		var b bytes.Buffer
		if err := r.WriteCSV(&b, name); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&b).ReadAll()
		if err != nil || len(rows) < 2 {
			t.Fatalf("%s: %v %v", name, rows, err)
		}
		if name == "moduulit" && (rows[1][0] != m1.Title || rows[1][2] != "2" || rows[1][7] != "1") {
			t.Fatalf("modules CSV = %v", rows[1])
		}
		if name == "oppijat" && fmt.Sprint(rows[1]) != "[kaikki 4 3 2 1 0]" {
			t.Fatalf("learners CSV = %v", rows[1])
		}
		if name == "koe" && fmt.Sprint(rows[1]) != "[2 3 1 50.0]" {
			t.Fatalf("exam CSV = %v", rows[1])
		}
	}
	if err := r.WriteCSV(&bytes.Buffer{}, "x"); err == nil {
		t.Fatal("an unknown report was written")
	}
	// One organisation: its learners and only their records and results.
	o := Build(in, Filter{Organisation: account.Organisations[1]})
	if o.Learners != 1 || o.Modules[0].Started != 1 || o.Modules[0].Completed != 0 || o.Exam.Learners != 1 || o.Exam.Passed != 0 || o.Certificates != 0 ||
		o.Modules[0].Buckets[0]+o.Modules[0].Buckets[1]+o.Modules[0].Buckets[2]+o.Modules[0].Buckets[3] != 1 {
		t.Fatalf("one organisation: %d learners, module 1 %+v, exam %+v, %d certificates", o.Learners, o.Modules[0], o.Exam, o.Certificates)
	}
}

// BenchmarkBuild10k: the aggregation for 10,000 learners (20 records each).
func BenchmarkBuild10k(b *testing.B) {
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		b.Fatal(problems.Error())
	}
	in := Synthetic(c, 10_000, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(in, Filter{})
	}
}

// A unit filter keeps the learners of the listed units only, and their
// records; the learners' CSV names the organisation and the unit.
func TestBuildByUnits(t *testing.T) {
	c := fixture(t)
	m1 := c.Modules[0]
	done := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	org := account.Organisations[0]
	in := Input{Course: c, Learners: []account.LearnerRow{
		{ID: "a", Organisation: org, UnitID: "u1"}, {ID: "b", Organisation: org, UnitID: "u2"}, {ID: "c", Organisation: org}}}
	for _, id := range []string{"a", "b", "c"} {
		in.Records = append(in.Records, study.RecordRow{UserID: id, Module: m1.Slug, Section: m1.Sections[0].Slug, Completed: &done, Seconds: 60})
	}
	r := Build(in, Filter{Organisation: org, Units: []string{"u1"}, UnitName: "Sosiaalipalvelut"})
	if r.Learners != 1 || r.Modules[0].Started != 1 {
		t.Fatalf("one unit: %d learners, %d started", r.Learners, r.Modules[0].Started)
	}
	if r := Build(in, Filter{Organisation: org, Units: []string{}}); r.Learners != 0 {
		t.Fatalf("no units: %d learners", r.Learners)
	}
	if r := Build(in, Filter{Organisation: org}); r.Learners != 3 {
		t.Fatalf("every unit: %d learners", r.Learners)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf, "oppijat"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(org+" / Sosiaalipalvelut,1,")) {
		t.Fatalf("CSV:\n%s", buf.String())
	}
}

// referenceBuild is the report as it was built from every row before the
// summaries (the code of that time), but for one rule: records count only
// at sections of the course (as on the learner's pages; a record set
// aside when its section was archived no longer counts). The summaries'
// reports must equal it.
func referenceBuild(in Input, f Filter) *Report {
	sections := map[string]bool{}
	for _, m := range in.Course.Modules {
		for _, s := range m.Sections {
			sections[m.Slug+"/"+s.Slug] = true
		}
	}
	r := &Report{Filter: f}
	who := make(map[string]bool, len(in.Learners))
	for _, l := range in.Learners {
		if f.OrgID != "" && l.OrgID != f.OrgID || f.OrgID == "" && f.Organisation != "" && l.Organisation != f.Organisation {
			continue
		}
		if f.Units != nil && !slices.Contains(f.Units, l.UnitID) {
			continue
		}
		r.Learners++
		who[l.ID] = true
		if f.In(l.CreatedAt) {
			r.Registered++
		}
		if f.In(l.LastActive) {
			r.Active++
		}
	}
	// Completed sections and time per learner and module.
	type key struct{ user, module string }
	done := map[key]int{}
	started := map[key]bool{}
	seconds := map[key]int{}
	for _, rec := range in.Records {
		if !who[rec.UserID] || !sections[rec.Module+"/"+rec.Section] {
			continue
		}
		k := key{rec.UserID, rec.Module}
		started[k] = true
		seconds[k] += rec.Seconds
		if rec.Completed != nil {
			done[k]++
		}
	}
	completedAll := map[string]int{}
	for _, m := range in.Course.Modules {
		row := ModuleRow{Slug: m.Slug, Title: m.Title, Sections: len(m.Sections)}
		t := TimeRow{Slug: m.Slug, Title: m.Title, BudgetMinutes: m.Minutes}
		total := 0
		for _, l := range in.Learners {
			if !who[l.ID] {
				continue
			}
			k := key{l.ID, m.Slug}
			n := min(done[k], row.Sections)
			switch {
			case n == 0:
				row.Buckets[0]++
			case row.Sections > 0 && n == row.Sections:
				row.Buckets[3]++
				row.Completed++
				completedAll[l.ID]++
			case 2*n < row.Sections:
				row.Buckets[1]++
			default:
				row.Buckets[2]++
			}
			if started[k] {
				row.Started++
				t.Learners++
				total += seconds[k]
			}
		}
		if t.Learners > 0 {
			t.AverageMinutes = math.Round(10*float64(total)/60/float64(t.Learners)) / 10
		}
		r.Modules = append(r.Modules, row)
		r.Time = append(r.Time, t)
	}
	for _, n := range completedAll {
		if n == len(in.Course.Modules) {
			r.CourseCompleted++
		}
	}
	for _, o := range in.Outcomes {
		if !who[o.UserID] || o.LastSubmitted == nil {
			continue
		}
		r.Exam.Learners++
		r.Exam.Attempts += o.Attempts
		if o.Passed {
			r.Exam.Passed++
		}
	}
	for _, c := range in.Issued {
		if who[c.UserID] && !c.Revoked && f.In(c.Issued) {
			r.Certificates++
		}
	}
	return r
}

// The report from the summaries equals the report built from the rows
// the old way, on a synthetic population, for every kind of filter.
func TestBuildFromSummariesEqualsTheRows(t *testing.T) {
	c, problems := course.Load(content.Bundled())
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	in := Synthetic(c, 3000, 12)
	for i := range in.Learners {
		if i%7 == 0 {
			in.Learners[i].OrgID, in.Learners[i].UnitID = "org-a", []string{"u1", "u2", "u3"}[i%3]
		}
	}
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, i18n.Helsinki), time.Date(2026, 6, 30, 0, 0, 0, 0, i18n.Helsinki)
	for _, f := range []Filter{{}, {Organisation: account.Organisations[2]}, {OrgID: "org-a"}, {OrgID: "org-a", Units: []string{"u1", "u3"}},
		{From: from}, {To: to}, {From: from, To: to, Organisation: account.Organisations[0]}} {
		got, want := Build(in, f), referenceBuild(in, f)
		if fmt.Sprint(*got) != fmt.Sprint(*want) {
			t.Errorf("filter %+v:\n from summaries %+v\n from the rows  %+v", f, *got, *want)
		}
		if f.Organisation == "" && f.OrgID == "" && got.Learners != 3000 {
			t.Errorf("learners = %d", got.Learners)
		}
	}
}
