package report

import (
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tyokyky/tyokyky/account"
	"github.com/tyokyky/tyokyky/course"
	"github.com/tyokyky/tyokyky/exam"
	"github.com/tyokyky/tyokyky/exam/cert"
	"github.com/tyokyky/tyokyky/internal/i18n"
	"github.com/tyokyky/tyokyky/study"
)

// LearnerSummary is everything the reports need of one account, kept in
// the collection report_learners (_id: the user id; the summary as one
// JSON string, see Summaries) and recomputed whole
// from the account's own records whenever one of them changes (see
// Summaries). Every account has one; the organisation reports count
// learners (the role) only, an assignment's evidence every role.
type LearnerSummary struct {
	ID           string    `json:"id"`
	Role         string    `json:"r"`
	OrgID        string    `json:"o,omitempty"`
	Organisation string    `json:"on"`
	UnitID       string    `json:"u,omitempty"`
	CreatedAt    time.Time `json:"c"`
	// LastActive is the start (in Helsinki) of the last day the account
	// was active: the reports' periods are days, and a summary need not
	// change with every minute a learner is signed in.
	LastActive time.Time `json:"a"`
	// Modules are the modules with a progress record of the learner at a
	// section of the published course, by slug.
	Modules []ModuleSummary `json:"m,omitempty"`
	// Exam is set once the learner has submitted an attempt.
	Exam         *ExamSummary  `json:"e,omitempty"`
	Certificates []CertSummary `json:"cs,omitempty"`
	// ComputedAt is when the sources were read (not compared).
	ComputedAt time.Time `json:"at"`
}

// ModuleSummary is a learner's records of one module: how many sections
// are completed, when the last of them was, and the seconds spent in
// them. A module listed is a module started.
type ModuleSummary struct {
	Slug    string    `json:"s"`
	Done    int       `json:"d"`
	Last    time.Time `json:"l,omitzero"`
	Seconds int       `json:"t"`
}

// ExamSummary is a learner's exam: attempts, passed, last submitted.
type ExamSummary struct {
	Attempts      int       `json:"n"`
	Passed        bool      `json:"p"`
	LastSubmitted time.Time `json:"l"`
}

// CertSummary is one of a learner's certificates.
type CertSummary struct {
	Issued  time.Time `json:"i"`
	Revoked bool      `json:"x,omitempty"`
}

// Same says whether two summaries hold the same figures (ComputedAt
// aside).
func (l *LearnerSummary) Same(o *LearnerSummary) bool {
	a, b := *l, *o
	a.ComputedAt, b.ComputedAt = time.Time{}, time.Time{}
	return a.ID == b.ID && a.Role == b.Role && a.OrgID == b.OrgID && a.Organisation == b.Organisation && a.UnitID == b.UnitID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastActive.Equal(b.LastActive) &&
		slices.EqualFunc(a.Modules, b.Modules, func(x, y ModuleSummary) bool {
			return x.Slug == y.Slug && x.Done == y.Done && x.Seconds == y.Seconds && x.Last.Equal(y.Last)
		}) && (a.Exam == nil) == (b.Exam == nil) && (a.Exam == nil || a.Exam.Attempts == b.Exam.Attempts &&
		a.Exam.Passed == b.Exam.Passed && a.Exam.LastSubmitted.Equal(b.Exam.LastSubmitted)) &&
		slices.EqualFunc(a.Certificates, b.Certificates, func(x, y CertSummary) bool { return x.Issued.Equal(y.Issued) && x.Revoked == y.Revoked })
}

// stamp is a time as the store keeps it (UTC, milliseconds).
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// dayOf is the start of t's day in Helsinki (zero stays zero).
func dayOf(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	h := t.In(i18n.Helsinki)
	return time.Date(h.Year(), h.Month(), h.Day(), 0, 0, 0, 0, i18n.Helsinki).UTC()
}

// Summarize makes the summaries of in's accounts from their rows.
// Progress records count only at sections of in.Course (as on the
// learner's own pages): a record set aside when its section was
// archived, or of a module no longer in the course, does not.
func Summarize(in Input) []LearnerSummary {
	z := newSummarizer(in.Course, in.Learners)
	for _, r := range in.Records {
		z.record(r)
	}
	for _, o := range in.Outcomes {
		z.outcome(o)
	}
	for _, c := range in.Issued {
		z.issued(c)
	}
	return z.done()
}

// summarizer folds rows into summaries one at a time (a rebuild streams
// the progress records through it without holding them).
type summarizer struct {
	sections map[string]bool
	at       map[string]int
	out      []LearnerSummary
}

func newSummarizer(c *course.Course, accounts []account.LearnerRow) *summarizer {
	z := &summarizer{sections: map[string]bool{}, at: make(map[string]int, len(accounts)), out: make([]LearnerSummary, 0, len(accounts))}
	if c != nil {
		for _, m := range c.Modules {
			for _, s := range m.Sections {
				z.sections[m.Slug+"/"+s.Slug] = true
			}
		}
	}
	for _, l := range accounts {
		if _, dup := z.at[l.ID]; dup {
			continue
		}
		role := l.Role
		if role == "" {
			role = account.RoleLearner
		}
		z.at[l.ID] = len(z.out)
		z.out = append(z.out, LearnerSummary{ID: l.ID, Role: role, OrgID: l.OrgID, Organisation: l.Organisation, UnitID: l.UnitID,
			CreatedAt: stamp(l.CreatedAt), LastActive: dayOf(l.LastActive)})
	}
	return z
}

func (z *summarizer) record(r study.RecordRow) {
	i, ok := z.at[r.UserID]
	if !ok || !z.sections[r.Module+"/"+r.Section] {
		return
	}
	s := &z.out[i]
	k := slices.IndexFunc(s.Modules, func(m ModuleSummary) bool { return m.Slug == r.Module })
	if k < 0 {
		s.Modules = append(s.Modules, ModuleSummary{Slug: r.Module})
		k = len(s.Modules) - 1
	}
	s.Modules[k].Seconds += r.Seconds
	if r.Completed != nil {
		s.Modules[k].Done++
		if c := stamp(*r.Completed); c.After(s.Modules[k].Last) {
			s.Modules[k].Last = c
		}
	}
}

func (z *summarizer) outcome(o exam.OutcomeRow) {
	if i, ok := z.at[o.UserID]; ok && o.LastSubmitted != nil {
		z.out[i].Exam = &ExamSummary{Attempts: o.Attempts, Passed: o.Passed, LastSubmitted: stamp(*o.LastSubmitted)}
	}
}

func (z *summarizer) issued(c cert.IssuedRow) {
	if i, ok := z.at[c.UserID]; ok {
		z.out[i].Certificates = append(z.out[i].Certificates, CertSummary{Issued: stamp(c.Issued), Revoked: c.Revoked})
	}
}

// done puts each summary's lists in order and returns them.
func (z *summarizer) done() []LearnerSummary {
	for i := range z.out {
		s := &z.out[i]
		slices.SortFunc(s.Modules, func(a, b ModuleSummary) int { return strings.Compare(a.Slug, b.Slug) })
		slices.SortFunc(s.Certificates, func(a, b CertSummary) int {
			if c := a.Issued.Compare(b.Issued); c != 0 {
				return c
			}
			if a.Revoked == b.Revoked {
				return 0
			}
			if a.Revoked {
				return 1
			}
			return -1
		})
	}
	return z.out
}

// Build makes the report of in for f: its learners' summaries
// (Summarize), aggregated (Aggregate).
func Build(in Input, f Filter) *Report {
	list := Summarize(in)
	return Aggregate(in.Course, func(yield func(*LearnerSummary) bool) {
		for i := range list {
			if !yield(&list[i]) {
				return
			}
		}
	}, f)
}

// Aggregate makes the report of f from accounts' summaries: the learners
// (the role) f keeps (organisation, units), their registrations, activity, modules,
// exam and certificates in the period.
func Aggregate(c *course.Course, learners iter.Seq[*LearnerSummary], f Filter) *Report {
	r := &Report{Filter: f}
	modules := c.Modules
	index := make(map[string]int, len(modules))
	for i, m := range modules {
		index[m.Slug] = i
	}
	rows := make([]ModuleRow, len(modules))
	times := make([]TimeRow, len(modules))
	seconds := make([]int, len(modules))
	for i, m := range modules {
		rows[i] = ModuleRow{Slug: m.Slug, Title: m.Title, Sections: len(m.Sections)}
		times[i] = TimeRow{Slug: m.Slug, Title: m.Title, BudgetMinutes: m.Minutes}
	}
	var units map[string]bool
	if f.Units != nil {
		units = make(map[string]bool, len(f.Units))
		for _, u := range f.Units {
			units[u] = true
		}
	}
	done := make([]int, len(modules))
	in := f.period().in
	for l := range learners {
		if l.Role != account.RoleLearner {
			continue
		}
		if f.OrgID != "" && l.OrgID != f.OrgID || f.OrgID == "" && f.Organisation != "" && l.Organisation != f.Organisation {
			continue
		}
		if units != nil && !units[l.UnitID] {
			continue
		}
		r.Learners++
		if in(l.CreatedAt) {
			r.Registered++
		}
		if in(l.LastActive) {
			r.Active++
		}
		clear(done)
		for _, m := range l.Modules {
			i, ok := index[m.Slug]
			if !ok {
				continue
			}
			done[i] = m.Done
			rows[i].Started++
			times[i].Learners++
			seconds[i] += m.Seconds
		}
		completed := 0
		for i := range rows {
			row := &rows[i]
			n := min(done[i], row.Sections)
			switch {
			case n == 0:
				row.Buckets[0]++
			case row.Sections > 0 && n == row.Sections:
				row.Buckets[3]++
				row.Completed++
				completed++
			case 2*n < row.Sections:
				row.Buckets[1]++
			default:
				row.Buckets[2]++
			}
		}
		if completed > 0 && completed == len(modules) {
			r.CourseCompleted++
		}
		if l.Exam != nil {
			r.Exam.Learners++
			r.Exam.Attempts += l.Exam.Attempts
			if l.Exam.Passed {
				r.Exam.Passed++
			}
		}
		for _, cs := range l.Certificates {
			if !cs.Revoked && in(cs.Issued) {
				r.Certificates++
			}
		}
	}
	for i := range times {
		if times[i].Learners > 0 {
			times[i].AverageMinutes = math.Round(10*float64(seconds[i])/60/float64(times[i].Learners)) / 10
		}
	}
	r.Modules, r.Time = rows, times
	return r
}
