// Package report builds the HR reports of the course: learners registered
// and active, progress per module, completions, the exam, certificates and
// time spent against the time budget, for one organisation or all, over a
// period. It aggregates in Go from per-learner summaries (LearnerSummary)
// that Summaries keeps up to date as events happen and can rebuild from
// the domain stores' rows, so a report never reads the progress records
// and runs the same on the embedded store and on MongoDB. It knows
// nothing of HTTP.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
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
	// From, To are the period, each the start of a day in Helsinki (the
	// summaries keep the day a learner was last active, not the minute);
	// zero values leave it open.
	From, To time.Time
}

// In says whether t falls in the period: from the start of From's day
// to the end of To's day, in Helsinki.
func (f Filter) In(t time.Time) bool { return f.period().in(t) }

// period is a filter's period as whole days: [from, end).
type period struct{ from, end time.Time }

func (f Filter) period() period {
	var p period
	if !f.From.IsZero() {
		p.from = dayOf(f.From)
	}
	if !f.To.IsZero() {
		p.end = dayOf(f.To).In(i18n.Helsinki).AddDate(0, 0, 1)
	}
	return p
}

func (p period) in(t time.Time) bool {
	return !t.IsZero() && (p.from.IsZero() || !t.Before(p.from)) && (p.end.IsZero() || t.Before(p.end))
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
