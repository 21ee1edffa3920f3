// Package report builds the HR reports of the course: learners registered
// and active, progress per module, completions, the exam, certificates and
// time spent against the time budget, for one organisation or all, over a
// period. It aggregates in Go from light rows that the domain stores give,
// so it runs the same on the embedded store and on MongoDB. It knows
// nothing of HTTP.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/study"
)

// Filter chooses what a report covers.
type Filter struct {
	// OrgID, when set, keeps the learners of this organisation of the
	// directory (whatever name their accounts carry, so that renaming an
	// organisation keeps its report whole); Organisation is then its
	// Finnish name, for the CSV. Without OrgID, Organisation matches the
	// accounts' organisation names (empty: every organisation).
	OrgID        string
	Organisation string
	// Units, when not nil, keeps only the learners of these units (a
	// unit's subtree in the directory); UnitName names the top one.
	Units    []string
	UnitName string
	From, To time.Time // the period; zero values leave it open
}

// In says whether t falls in the period (To is inclusive of its day).
func (f Filter) In(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	if !f.From.IsZero() && t.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !t.Before(f.To.AddDate(0, 0, 1)) {
		return false
	}
	return true
}

// Input is what the reports are made of.
type Input struct {
	Course   *course.Course
	Learners []account.LearnerRow // of the organisation already
	Records  []study.RecordRow
	Outcomes []exam.OutcomeRow
	Issued   []cert.IssuedRow
}

// Report is every figure of the reports.
type Report struct {
	Filter     Filter
	Learners   int // accounts of the organisation
	Registered int // created in the period
	Active     int // active in the period
	Modules    []ModuleRow
	// CourseCompleted counts learners who completed every module.
	CourseCompleted int
	Exam            ExamRow
	Certificates    int // issued in the period, not revoked
	Time            []TimeRow
}

// ModuleRow is one module's progress: how many learners have completed
// none, some, most or all of its sections.
type ModuleRow struct {
	Slug, Title string
	Sections    int
	Started     int    // learners with any record in the module
	Completed   int    // learners who completed every section
	Buckets     [4]int // 0 %, 1–49 %, 50–99 %, 100 % of sections completed
}

// Bucket names, for tables and CSV.
var Buckets = [4]string{"0 %", "1–49 %", "50–99 %", "100 %"}

// ExamRow sums up the exam.
type ExamRow struct {
	Learners int // learners who submitted at least one attempt
	Attempts int
	Passed   int
}

// PassRate is the share of learners who tried and passed, in per cent.
func (e ExamRow) PassRate() float64 {
	if e.Learners == 0 {
		return 0
	}
	return math.Round(1000*float64(e.Passed)/float64(e.Learners)) / 10
}

// TimeRow compares the time learners spent in a module with its budget.
type TimeRow struct {
	Slug, Title   string
	BudgetMinutes int
	// AverageMinutes is the mean time of the learners who started it.
	AverageMinutes float64
	Learners       int
}

// Build makes the report of in for f.
func Build(in Input, f Filter) *Report {
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
		if !who[rec.UserID] {
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

// Names of the reports, as CSV files.
var Names = []string{"oppijat", "moduulit", "koe", "ajankaytto"}

// WriteCSV writes one report (a name of Names) as CSV with a header row.
func (r *Report) WriteCSV(w io.Writer, name string) error {
	cw := csv.NewWriter(w)
	itoa := strconv.Itoa
	ftoa := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	var rows [][]string
	switch name {
	case "oppijat":
		org := r.Filter.Organisation
		if org == "" {
			org = "kaikki"
		}
		if r.Filter.UnitName != "" {
			org += " / " + r.Filter.UnitName
		}
		rows = [][]string{{"organisaatio", "tilit", "rekisteröityneet jaksolla", "aktiiviset jaksolla", "koko kurssin suorittaneet", "todistukset jaksolla"},
			{org, itoa(r.Learners), itoa(r.Registered), itoa(r.Active), itoa(r.CourseCompleted), itoa(r.Certificates)}}
	case "moduulit":
		rows = [][]string{{"moduuli", "osioita", "aloittaneet", "suorittaneet", "0 %", "1–49 %", "50–99 %", "100 %"}}
		for _, m := range r.Modules {
			rows = append(rows, []string{m.Title, itoa(m.Sections), itoa(m.Started), itoa(m.Completed), itoa(m.Buckets[0]), itoa(m.Buckets[1]), itoa(m.Buckets[2]), itoa(m.Buckets[3])})
		}
	case "koe":
		rows = [][]string{{"kokeen tehneet", "yrityksiä", "hyväksytyt", "hyväksymisprosentti"},
			{itoa(r.Exam.Learners), itoa(r.Exam.Attempts), itoa(r.Exam.Passed), ftoa(r.Exam.PassRate())}}
	case "ajankaytto":
		rows = [][]string{{"moduuli", "aikabudjetti (min)", "aloittaneet", "keskimäärin (min)"}}
		for _, t := range r.Time {
			rows = append(rows, []string{t.Title, itoa(t.BudgetMinutes), itoa(t.Learners), ftoa(t.AverageMinutes)})
		}
	default:
		return fmt.Errorf("report: no report %q", name)
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
